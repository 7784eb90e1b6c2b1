//! The steps of finding segments, for any algorithm that learns them: preprocessing fitted on
//! every row (there is no held-out split: a segmentation is judged on the rows it describes), the
//! algorithm's recipe, and the segment metrics: sizes, the silhouette on a seeded sample of at
//! most 10,000 rows (it is quadratic in rows), Davies-Bouldin and Calinski-Harabasz over the
//! segments' means.

use super::supervised::{object, prep_error, Inputs, Trained};
use crate::error::Result;
use crate::ml::algorithms::kmeans::seeded_sample;
use crate::ml::algorithms::{Fitted, Target, TrainingData};
use crate::ml::linalg::Matrix;
use crate::ml::metrics::{self, finite};
use crate::ml::model::{Model, Task};
use crate::ml::preprocess::Preprocessor;
use crate::ml::profile::SegmentProfile;
use serde_json::json;

/// Rows of the seeded sample the silhouette is computed on.
pub(super) const SILHOUETTE_SAMPLE: usize = 10_000;

/// Every row preprocessed and the recipe fitted on all of them (no target, no split): what
/// segmentation and lifetime-value models start from.
pub(super) fn fit_all_rows(inp: &Inputs) -> Result<(Preprocessor, Matrix, Fitted)> {
    let rows: Vec<usize> = (0..inp.frame.n_rows).collect();
    let pre =
        Preprocessor::fit(inp.specs, &inp.frame.columns, &rows, inp.prep).map_err(prep_error)?;
    if let Some(col) = pre.unfitted_text() {
        return Err(super::supervised::free_text_needs_classes(col));
    }
    let x = pre
        .encode_rows(&inp.frame.columns, &rows)
        .map_err(prep_error)?;
    let started = std::time::Instant::now();
    let mut fitted = inp.recipe.fit(
        &TrainingData {
            x: &x,
            target: Target::None,
            weights: &[],
            levels: &[],
        },
        inp.ctx,
    )?;
    fitted
        .info
        .insert("fit_seconds".into(), json!(started.elapsed().as_secs_f64()));
    Ok((pre, x, fitted))
}

pub fn segment(inp: &Inputs) -> Result<Trained> {
    let n = inp.frame.n_rows;
    let (pre, x, fitted) = fit_all_rows(inp)?;
    let mut model = Model {
        task: Task::Segmentation,
        classes: vec![],
        threshold: 0.5,
        preprocessor: pre,
        estimator: fitted.estimator,
    };

    // each row's segment, as scoring gives it
    let mut out = [0.0; 2];
    let labels: Vec<usize> = (0..n)
        .map(|r| {
            model.predict_encoded(x.row(r), &mut out);
            out[0] as usize - 1
        })
        .collect();
    let k = model.centers().map_or(0, |c| c.len() / x.cols.max(1));
    let profile = SegmentProfile::of(&x, &labels, k);
    let (sizes, means) = (profile.sizes.clone(), profile.means.clone());
    model.estimator.set_segment_profile(profile);
    let sample = seeded_sample(n, SILHOUETTE_SAMPLE, inp.seed);
    let sample_labels: Vec<usize> = sample.iter().map(|&i| labels[i]).collect();
    let silhouette = metrics::silhouette(
        &x.select_rows(&sample),
        &sample_labels,
        k,
        inp.ctx.par,
        inp.ctx.monitor,
    );
    let mut metrics = object(json!({
        "silhouette": finite(silhouette),
        "silhouette_sample": sample.len(),
        "davies_bouldin": finite(metrics::davies_bouldin(&x, &labels, &means, k)),
        "calinski_harabasz": finite(metrics::calinski_harabasz(&x, &labels, &means, k)),
        "sizes": sizes,
        "n_rows": n,
    }));
    metrics.extend(fitted.info);
    let mut options = object(inp.recipe.options());
    options.extend(object(inp.prep.to_json()));
    let map = crate::ml::report_data::segment_map(
        &x,
        &labels.iter().map(|l| l + 1).collect::<Vec<_>>(),
        inp.seed,
    );
    Ok(Trained {
        model,
        metrics,
        options,
        report: Some(crate::ml::report_data::ReportData::Segments(map)),
    })
}
