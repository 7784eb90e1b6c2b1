//! Segmentation models in SQL: scoring (insight.segment and insight.segment_distance; whole table
//! rows are rewritten by the planner into column arguments as for the other scorers, see
//! api/rewrite.rs) and reading what the segments are (segment_profiles, segment_summary,
//! centroids).

use crate::api::predict::{number, score_direct, Output};
use crate::error::{InsightError, OrRaise, Result};
use crate::ml::model::{Model, Task};
use crate::ml::profile;
use crate::store::{cache, catalog};
use pgrx::prelude::*;
use pgrx::AnyElement;
use std::rc::Rc;

/// The segment (1-based) of a row under a segmentation model; insight.predict gives the same.
#[pg_extern(stable, parallel_safe)]
fn segment(model: &str, row_or_array: AnyElement, fcinfo: pg_sys::FunctionCallInfo) -> i32 {
    number(score_direct(fcinfo, model, &row_or_array, Output::Segment)) as i32
}

/// The distance from a row to the centre of its segment, in the encoded inputs (standardised
/// numbers, one-hot categories): large values are outliers of their segment.
#[pg_extern(stable, parallel_safe)]
fn segment_distance(
    model: &str,
    row_or_array: AnyElement,
    fcinfo: pg_sys::FunctionCallInfo,
) -> f64 {
    number(score_direct(
        fcinfo,
        model,
        &row_or_array,
        Output::SegmentDistance,
    ))
}

/// A segmentation model by name (or name@version) and its stored profile.
fn segmentation_model(model: &str, what: &str) -> Result<Rc<Model>> {
    let m = cache::load(catalog::resolve(&catalog::parse_ref(model)?)?)?;
    if m.task != Task::Segmentation || m.estimator.segment_profile().is_none() {
        return Err(InsightError::not_supported(
            format!(
                "{what} needs a segmentation model, but model \"{model}\" is a {} model",
                m.task.as_str()
            ),
            "Train one with algorithm => 'kmeans' or 'agglomerative'.",
        ));
    }
    Ok(m)
}

/// What each segment looks like: per segment and input, the mean over the segment's training
/// rows in the input's units (a category, `name = value`, as the share of the segment's rows),
/// the mean over all training rows, and the difference in population standard deviations.
#[pg_extern(stable, parallel_safe)]
fn segment_profiles(
    model: &str,
) -> TableIterator<
    'static,
    (
        name!(segment, i32),
        name!(customers, i64),
        name!(share, f64),
        name!(feature, String),
        name!(mean, Option<f64>),
        name!(population_mean, f64),
        name!(z, Option<f64>),
    ),
> {
    let run = || -> Result<_> {
        let m = segmentation_model(model, "insight.segment_profiles")?;
        let p = m.estimator.segment_profile().expect("checked");
        Ok(profile::rows(&m.preprocessor, p)
            .into_iter()
            .map(|r| {
                (
                    r.segment as i32,
                    r.customers as i64,
                    r.share,
                    r.feature,
                    r.mean,
                    r.population_mean,
                    r.z,
                )
            })
            .collect::<Vec<_>>())
    };
    TableIterator::new(run().or_raise())
}

/// One row per segment: its size and its three most distinguishing inputs (largest |z|) as text,
/// e.g. `visits_30d high: 14.2 vs 6.10 (z +1.9); region = north: 64% vs 25% (z +0.9); ...`.
#[pg_extern(stable, parallel_safe)]
fn segment_summary(
    model: &str,
) -> TableIterator<
    'static,
    (
        name!(segment, i32),
        name!(customers, i64),
        name!(share, f64),
        name!(description, String),
    ),
> {
    let run = || -> Result<_> {
        let m = segmentation_model(model, "insight.segment_summary")?;
        let rows = profile::rows(
            &m.preprocessor,
            m.estimator.segment_profile().expect("checked"),
        );
        Ok(profile::summary(&rows)
            .into_iter()
            .map(|(s, c, share, text)| (s as i32, c as i64, share, text))
            .collect::<Vec<_>>())
    };
    TableIterator::new(run().or_raise())
}

/// The segment centres the scorers measure distances to, per segment and encoded input
/// (standardised numbers, one-hot categories `name=value`), as model_info's parameters.
#[pg_extern(stable, parallel_safe)]
fn centroids(
    model: &str,
) -> TableIterator<
    'static,
    (
        name!(segment, i32),
        name!(feature, String),
        name!(center, f64),
    ),
> {
    let run = || -> Result<_> {
        let m = segmentation_model(model, "insight.centroids")?;
        let centers = m.centers().expect("segmentation models have centres");
        let names = m.preprocessor.encoded_names();
        let w = names.len().max(1);
        Ok(centers
            .chunks(w)
            .enumerate()
            .flat_map(|(j, c)| {
                names
                    .iter()
                    .zip(c)
                    .map(move |(n, v)| (j as i32 + 1, n.clone(), *v))
            })
            .collect::<Vec<_>>())
    };
    TableIterator::new(run().or_raise())
}
