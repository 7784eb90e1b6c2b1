//! A trained model (preprocessing + estimator) and its versioned binary codec.
//!
//! Stored bytes: b"PGIM", format version (u16 little endian), then the bincode encoding of
//! [`Model`]. A row written by this release must load in later ones: when [`Model`] changes,
//! bump FORMAT_VERSION and keep a decoder for every older version.

use super::linalg::dot;
use super::linalg::{sigmoid, softmax_in_place};
use super::preprocess::{Encoding, PrepError, Preprocessor, Value};
use serde::{Deserialize, Serialize};

pub const MAGIC: &[u8; 4] = b"PGIM";
/// 1: linear models; 2: adds the MLP estimator; 3: adds segmentation (the KMeans estimator and
/// task; in 0.2.0, unreleased, also hierarchical segmentation, the customer-value models and the
/// tree ensembles, their splits on coded categories included).
/// Each adds enum variants at the end, so rows of every earlier version decode unchanged; the
/// number tells an older release that it cannot read a newer row.
pub const FORMAT_VERSION: u16 = 3;
/// More encoded inputs than this is not a model anyone trained (train caps categories at 1000 per
/// column and PostgreSQL rows at 1600 columns).
const MAX_ENCODED_WIDTH: usize = 1 << 21;
/// As train's limit on the classes of a target.
const MAX_CLASSES: usize = 100;

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Task {
    Binary,
    Multiclass,
    Regression,
    /// No target: rows are put into segments.
    Segmentation,
    /// Customers' purchase histories (frequency, recency, T): a buy-till-you-die model.
    LifetimeValue,
    /// Which items each customer may want (insight.recommend): no rows to score.
    Recommendation,
}

impl Task {
    pub fn as_str(self) -> &'static str {
        match self {
            Task::Binary => "binary_classification",
            Task::Multiclass => "multiclass_classification",
            Task::Regression => "regression",
            Task::Segmentation => "segmentation",
            Task::LifetimeValue => "lifetime_value",
            Task::Recommendation => "recommendation",
        }
    }
}

#[derive(Serialize, Deserialize, Clone, Debug)]
pub enum Estimator {
    /// outputs x width coefficients (row-major) and one intercept per output. Binary: the
    /// log-odds of the positive class; multiclass: softmax scores; regression: the value.
    Linear { coef: Vec<f64>, intercept: Vec<f64> },
    /// A feed-forward network over the encoded inputs.
    Mlp(super::algorithms::mlp::Mlp),
    /// Segment centres, k x width (row-major) in the encoded inputs: a row belongs to the nearest.
    /// The profile describes the segments' training rows (insight.segment_profiles).
    KMeans {
        centers: Vec<f64>,
        profile: super::profile::SegmentProfile,
    },
    /// Agglomerative segments: scored as KMeans (the nearest centre); the top of the merge tree
    /// lets insight.recut make another k.
    Agglomerative {
        centers: Vec<f64>,
        profile: super::profile::SegmentProfile,
        tree: super::algorithms::agglomerative::Dendrogram,
    },
    /// BG/NBD over (frequency, recency, T) read raw (no scaling): scored as P(alive).
    BgNbd(super::clv::bgnbd::BgNbd),
    /// Pareto/NBD over (frequency, recency, T), as BG/NBD.
    ParetoNbd(super::clv::pareto_nbd::ParetoNbd),
    /// Gamma-Gamma over (frequency, recency, T, monetary_value): scored as the expected spend
    /// per transaction; with a paired transaction model (BG/NBD or Pareto/NBD, its parameters
    /// copied in at training) it values customers (CLV), counting `per_month` of the summary's
    /// units to a month.
    GammaGamma {
        model: super::clv::gamma_gamma::GammaGamma,
        transactions: Option<super::clv::Transactions>,
        per_month: f64,
    },
    /// Gradient-boosted trees: raw scores as Linear's (log-odds, class scores, the value).
    /// Missing inputs (NaN, from `impute: native`) follow each split's learned side.
    Boosted(super::algorithms::gbdt::boost::Boosted),
    /// A random forest: the trees' outputs summed (each leaf already divided by the number of
    /// bags) are the probability of the positive class, each class's share before normalising,
    /// or the value.
    Forest(super::algorithms::gbdt::boost::Boosted),
    /// A recommender (ALS, item neighbours or popularity) with its customer and item keys and
    /// every customer's interactions; it has no encoded inputs and scores no rows.
    Recommender(super::recommend::Recommender),
}

#[derive(Serialize, Deserialize, Clone, Debug)]
pub struct Model {
    pub task: Task,
    /// Class labels as text; binary: [negative, positive].
    pub classes: Vec<String>,
    /// Binary classification: P(positive) at or above this is the positive class.
    pub threshold: f64,
    pub preprocessor: Preprocessor,
    pub estimator: Estimator,
}

impl Estimator {
    /// Stores the profile of a segmentation model's training rows (nothing for other models).
    pub fn set_segment_profile(&mut self, p: super::profile::SegmentProfile) {
        if let Estimator::KMeans { profile, .. } | Estimator::Agglomerative { profile, .. } = self {
            *profile = p;
        }
    }

    /// The profile of a segmentation model's training rows.
    pub fn segment_profile(&self) -> Option<&super::profile::SegmentProfile> {
        match self {
            Estimator::KMeans { profile, .. } | Estimator::Agglomerative { profile, .. } => {
                Some(profile)
            }
            _ => None,
        }
    }

    /// For a linear estimator: shifts the coefficients of each one-hot column so that their mean
    /// over the training rows `x` is zero, the intercept taking the shift. Scores do not change,
    /// because every training row sets exactly one slot of such a column (a column where some row
    /// sets none, under impute = zero, is left alone: it is not collinear with the intercept). But
    /// each category's coefficient becomes its difference from an average row, whatever the
    /// penalty: without this, an unpenalised model's categories and intercept are collinear and
    /// explanations show arbitrary offsets (+8 on every category, +24 on the intercept).
    pub fn center_categories(&mut self, pre: &Preprocessor, x: &super::linalg::Matrix) {
        let Estimator::Linear { coef, intercept } = self else {
            return;
        };
        let w = pre.width;
        if x.rows == 0 || x.cols != w {
            return;
        }
        for f in &pre.features {
            if !matches!(f.encoding, Encoding::OneHot { .. }) {
                continue;
            }
            let (o, n) = (f.offset, f.width());
            let mut freq = vec![0.0; n];
            let mut one_per_row = true;
            for r in 0..x.rows {
                let slots = &x.row(r)[o..o + n];
                one_per_row &= slots.iter().sum::<f64>() == 1.0;
                for (q, v) in freq.iter_mut().zip(slots) {
                    *q += v;
                }
            }
            if !one_per_row {
                continue;
            }
            for q in freq.iter_mut() {
                *q /= x.rows as f64;
            }
            for (k, b) in intercept.iter_mut().enumerate() {
                let c = &mut coef[k * w + o..k * w + o + n];
                let shift: f64 = c.iter().zip(&freq).map(|(a, q)| a * q).sum();
                c.iter_mut().for_each(|a| *a -= shift);
                *b += shift;
            }
        }
    }
}

#[derive(Debug, PartialEq)]
pub enum CodecError {
    NotAModel,
    UnsupportedVersion(u16),
    Corrupt(String),
}

impl Model {
    /// Number of values `predict_encoded` writes.
    pub fn outputs(&self) -> usize {
        match self.task {
            Task::Multiclass => self.classes.len(),
            Task::Segmentation => 2,
            _ => 1,
        }
    }

    /// Scores one encoded row: binary -> [P(positive)], multiclass -> class probabilities,
    /// regression -> [value], segmentation -> [segment number (1-based), distance to its centre].
    #[inline]
    pub fn predict_encoded(&self, x: &[f64], out: &mut [f64]) {
        match &self.estimator {
            Estimator::Linear { coef, intercept } => {
                let w = x.len();
                for (k, o) in out.iter_mut().enumerate().take(intercept.len()) {
                    *o = dot(&coef[k * w..(k + 1) * w], x) + intercept[k];
                }
                match self.task {
                    Task::Binary => out[0] = sigmoid(out[0]),
                    Task::Multiclass => softmax_in_place(out),
                    _ => {}
                }
            }
            Estimator::Mlp(m) => m.predict(x, out),
            Estimator::KMeans { centers, .. } | Estimator::Agglomerative { centers, .. } => {
                let (segment, sq) = super::distance::nearest(x, centers, x.len());
                out[0] = (segment + 1) as f64;
                out[1] = sq.sqrt();
            }
            Estimator::BgNbd(m) => out[0] = m.p_alive(&super::clv::bgnbd::Customer::of(x)),
            Estimator::ParetoNbd(m) => out[0] = m.p_alive(&super::clv::bgnbd::Customer::of(x)),
            Estimator::GammaGamma { model, .. } => out[0] = model.expected_spend(x[0], x[3]),
            Estimator::Boosted(b) => {
                b.raw(x, out);
                match self.task {
                    Task::Binary => out[0] = sigmoid(out[0]),
                    Task::Multiclass => softmax_in_place(out),
                    _ => {}
                }
            }
            Estimator::Forest(f) => {
                f.raw(x, out);
                match self.task {
                    Task::Binary => out[0] = out[0].clamp(0.0, 1.0),
                    Task::Multiclass => {
                        let total: f64 = out.iter().map(|v| v.max(0.0)).sum();
                        let k = out.len() as f64;
                        for v in out.iter_mut() {
                            *v = if total > 0.0 {
                                v.max(0.0) / total
                            } else {
                                1.0 / k
                            };
                        }
                    }
                    _ => {}
                }
            }
            // the scorers refuse recommenders before any row is encoded (api::predict)
            Estimator::Recommender(_) => out.iter_mut().for_each(|o| *o = f64::NAN),
        }
    }

    /// Per encoded input: coefficient x value, the exact additive contribution to the score
    /// (log-odds for binary, the value for regression). Multiclass: for the given class.
    /// What insight.predict returns from the outputs of `predict_encoded`: P(positive) for
    /// binary classifiers, the value for regression, the class number for multiclass.
    pub fn predict_value(&self, out: &[f64]) -> f64 {
        match self.task {
            Task::Multiclass => super::metrics::argmax(out) as f64,
            _ => out[0],
        }
    }

    /// The predicted label of a classifier from its outputs: binary at the threshold, multiclass
    /// the most probable class.
    pub fn label(&self, out: &[f64]) -> &str {
        match self.task {
            Task::Binary => &self.classes[usize::from(out[0] >= self.threshold)],
            _ => &self.classes[super::metrics::argmax(out)],
        }
    }

    /// Additive explanation of one encoded row: per-input contributions and the base they add
    /// to. Linear models: coefficient x value and the intercept, in the score's units (log-odds
    /// for classifiers). Networks: integrated gradients from the mean training row, in the
    /// output's units (probability of `output`, or the value); base = output at that row.
    /// Boosted trees: exact TreeSHAP values in the raw score's units (log-odds, class score,
    /// value); base = the expected raw score over the training rows.
    /// None for models without an additive score (segmentation).
    pub fn explain(&self, x: &[f64], output: usize) -> Option<(Vec<f64>, f64)> {
        match &self.estimator {
            Estimator::Linear { .. } => self.linear_contributions(x, output),
            Estimator::Mlp(m) => Some(m.integrated_gradients(x, output, 1024)),
            Estimator::Boosted(b) | Estimator::Forest(b) => Some(b.shap(x, output)),
            Estimator::KMeans { .. }
            | Estimator::Agglomerative { .. }
            | Estimator::BgNbd(_)
            | Estimator::ParetoNbd(_)
            | Estimator::GammaGamma { .. }
            | Estimator::Recommender(_) => None,
        }
    }

    /// None for non-linear estimators.
    pub fn linear_contributions(&self, x: &[f64], output: usize) -> Option<(Vec<f64>, f64)> {
        match &self.estimator {
            Estimator::Linear { coef, intercept } => {
                let w = x.len();
                let c = &coef[output * w..(output + 1) * w];
                Some((
                    c.iter().zip(x).map(|(a, b)| a * b).collect(),
                    intercept[output],
                ))
            }
            Estimator::Mlp(_)
            | Estimator::Recommender(_)
            | Estimator::KMeans { .. }
            | Estimator::Agglomerative { .. }
            | Estimator::BgNbd(_)
            | Estimator::ParetoNbd(_)
            | Estimator::GammaGamma { .. }
            | Estimator::Boosted(_)
            | Estimator::Forest(_) => None,
        }
    }

    /// The learned parameters, as model_info shows them.
    pub fn parameters(&self) -> serde_json::Value {
        let names = self.preprocessor.encoded_names();
        match &self.estimator {
            Estimator::Recommender(r) => r.describe(),
            Estimator::Linear { coef, intercept } => {
                linear_parameters(coef, intercept, &names, self.task, &self.classes)
            }
            Estimator::Mlp(net) => net.parameters(&names),
            Estimator::KMeans { centers, .. } => {
                super::algorithms::kmeans::parameters(centers, &names)
            }
            Estimator::Agglomerative { centers, tree, .. } => {
                super::algorithms::agglomerative::parameters(centers, tree, &names)
            }
            Estimator::BgNbd(m) => serde_json::json!({
                "params": { "r": m.r, "alpha": m.alpha, "a": m.a, "b": m.b },
                "inputs": names,
            }),
            Estimator::ParetoNbd(m) => serde_json::json!({
                "params": { "r": m.r, "alpha": m.alpha, "s": m.s, "beta": m.beta },
                "inputs": names,
            }),
            Estimator::GammaGamma {
                model,
                transactions,
                per_month,
            } => serde_json::json!({
                "params": { "p": model.p, "q": model.q, "v": model.v },
                "transactions": transactions.map(|t| t.to_json()),
                "units_per_month": per_month,
                "inputs": names,
            }),
            Estimator::Boosted(b) | Estimator::Forest(b) => {
                let gain = b.gain_importance(self.preprocessor.width);
                let total: f64 = gain.iter().sum::<f64>().max(f64::MIN_POSITIVE);
                let mut ranked: Vec<(usize, f64)> = gain.into_iter().enumerate().collect();
                ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
                serde_json::json!({
                    "rounds": b.rounds(),
                    "trees": b.trees.len(),
                    "leaves": b.trees.iter().map(|t| t.leaf_value.len()).sum::<usize>(),
                    "base_score": b.base,
                    "inputs": names,
                    // each input's share of the loss reduction of every split, largest first
                    "gain_importance": ranked.iter().filter(|(_, g)| *g > 0.0).map(|&(j, g)| serde_json::json!({
                        "input": names.get(j).cloned().unwrap_or_default(),
                        "share": g / total,
                    })).collect::<Vec<_>>(),
                })
            }
        }
    }

    /// A recommender as a model: the recommendation task, no classes and no encoded inputs (it
    /// scores no rows).
    pub fn recommender(r: super::recommend::Recommender) -> Model {
        Model {
            task: Task::Recommendation,
            classes: vec![],
            threshold: 0.5,
            preprocessor: Preprocessor {
                features: vec![],
                width: 0,
            },
            estimator: Estimator::Recommender(r),
        }
    }

    /// Rebuilds the lookup tables that are not serialised (category and key indexes).
    pub fn prepare(&mut self) {
        self.preprocessor.prepare();
        if let Estimator::Recommender(r) = &mut self.estimator {
            r.prepare();
        }
    }

    pub fn encode(&self) -> Vec<u8> {
        // a size hint only: capped, whatever the width says
        let mut out = Vec::with_capacity(
            self.preprocessor
                .width
                .saturating_mul(16)
                .saturating_add(64)
                .min(1 << 20),
        );
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
        bincode::serialize_into(&mut out, self).expect("serialising to a Vec cannot fail");
        out
    }

    pub fn decode(bytes: &[u8]) -> Result<Model, CodecError> {
        if bytes.len() < 6 || &bytes[..4] != MAGIC {
            return Err(CodecError::NotAModel);
        }
        let version = u16::from_le_bytes([bytes[4], bytes[5]]);
        match version {
            1..=3 => {
                // bincode's own format (fixed-width integers, trailing bytes allowed), with a
                // limit: no length prefix may claim more than the stored bytes
                use bincode::Options;
                let mut m: Model = bincode::DefaultOptions::new()
                    .with_fixint_encoding()
                    .allow_trailing_bytes()
                    .with_limit(bytes.len() as u64)
                    .deserialize(&bytes[6..])
                    .map_err(|e| CodecError::Corrupt(e.to_string()))?;
                m.check().map_err(CodecError::Corrupt)?;
                m.prepare();
                Ok(m)
            }
            v => Err(CodecError::UnsupportedVersion(v)),
        }
    }

    /// Checks that a decoded model is whole: the features tile the encoded vector, the classes
    /// fit the task, and the estimator's shapes fit the inputs and outputs. Scoring indexes and
    /// allocates by these numbers, so a row that bincode can read but that was damaged or made
    /// by hand must fail here, not abort the backend there.
    pub fn check(&self) -> Result<(), String> {
        let pre = &self.preprocessor;
        // a recommender reads no row: no inputs, its own keys and shapes
        match (&self.estimator, self.task) {
            (Estimator::Recommender(r), Task::Recommendation)
                if pre.width == 0 && pre.features.is_empty() && self.classes.is_empty() =>
            {
                return r.check();
            }
            (Estimator::Recommender(_), _) | (_, Task::Recommendation) => {
                return Err(format!(
                    "a {} model with a recommender that is not one, or with inputs",
                    self.task.as_str()
                ));
            }
            _ => {}
        }
        if pre.width == 0 || pre.width > MAX_ENCODED_WIDTH {
            return Err(format!("it has {} encoded inputs", pre.width));
        }
        let mut offset = 0usize;
        for f in &pre.features {
            if f.offset != offset {
                return Err(format!(
                    "feature {} starts at input {}, not {offset}",
                    f.name, f.offset
                ));
            }
            match &f.encoding {
                Encoding::Text(_) | Encoding::Embedded(_) => {
                    // text models are fitted on classes: one output for two, one per class
                    let outputs = match self.task {
                        Task::Binary => 1,
                        Task::Multiclass => self.classes.len(),
                        _ => 0,
                    };
                    let (checked, m_outputs) = match &f.encoding {
                        Encoding::Text(m) => (m.check(), m.outputs),
                        Encoding::Embedded(m) => (m.check(), m.outputs),
                        _ => unreachable!("matched above"),
                    };
                    checked.map_err(|e| format!("feature {}: {e}", f.name))?;
                    if m_outputs != outputs {
                        return Err(format!(
                            "feature {} is free text with {} outputs in a {} model",
                            f.name,
                            m_outputs,
                            self.task.as_str()
                        ));
                    }
                }
                Encoding::Scaled { mean, scale, fill } => {
                    // a missing fill (impute native) only for trees, which route NaN
                    let fill_ok = fill.is_finite()
                        || (fill.is_nan()
                            && matches!(
                                self.estimator,
                                Estimator::Boosted(_) | Estimator::Forest(_)
                            ));
                    if !(mean.is_finite() && fill_ok && scale.is_finite() && *scale != 0.0) {
                        return Err(format!(
                            "feature {} has a non-finite or zero scaling",
                            f.name
                        ));
                    }
                }
                Encoding::OneHot {
                    categories,
                    null_slot,
                } => {
                    if null_slot.is_some_and(|s| s > categories.len()) {
                        return Err(format!(
                            "feature {} imputes a category it does not have",
                            f.name
                        ));
                    }
                    let distinct: std::collections::HashSet<&String> = categories.iter().collect();
                    if distinct.len() != categories.len() {
                        return Err(format!("feature {} lists a category twice", f.name));
                    }
                }
                Encoding::Coded { categories, .. } => {
                    // only trees split on codes, and their bins hold this many
                    if !matches!(self.estimator, Estimator::Boosted(_) | Estimator::Forest(_))
                        || categories.len() > super::preprocess::MAX_CODED_CATEGORIES
                    {
                        return Err(format!(
                            "feature {} codes {} categories for a model that is not trees, or \
                             more than {}",
                            f.name,
                            categories.len(),
                            super::preprocess::MAX_CODED_CATEGORIES
                        ));
                    }
                    let distinct: std::collections::HashSet<&String> = categories.iter().collect();
                    if distinct.len() != categories.len() {
                        return Err(format!("feature {} lists a category twice", f.name));
                    }
                }
            }
            offset = offset.saturating_add(f.width());
        }
        if offset != pre.width {
            return Err(format!(
                "its features take {offset} inputs, but it has {}",
                pre.width
            ));
        }
        let classes_ok = match self.task {
            Task::Binary => self.classes.len() == 2,
            Task::Multiclass => (3..=MAX_CLASSES).contains(&self.classes.len()),
            _ => self.classes.is_empty(),
        };
        let distinct: std::collections::HashSet<&String> = self.classes.iter().collect();
        if !classes_ok
            || distinct.len() != self.classes.len()
            || !(0.0..=1.0).contains(&self.threshold)
        {
            return Err(format!(
                "a {} model with {} classes and threshold {}",
                self.task.as_str(),
                self.classes.len(),
                self.threshold
            ));
        }
        let k = self.outputs();
        match &self.estimator {
            Estimator::Recommender(_) => unreachable!("recommenders are checked above"),
            Estimator::Linear { coef, intercept } => {
                if intercept.len() != k || coef.len() != k * pre.width {
                    return Err(format!(
                        "{} coefficients and {} intercepts for {} inputs and {k} outputs",
                        coef.len(),
                        intercept.len(),
                        pre.width
                    ));
                }
                if !coef.iter().chain(intercept).all(|v| v.is_finite()) {
                    return Err("a coefficient is NaN or infinite".into());
                }
                Ok(())
            }
            Estimator::Mlp(net) => net.check(pre.width, k, self.task),
            Estimator::KMeans { centers, profile } => {
                check_centers(self.task, centers, profile, pre.width)
            }
            Estimator::Agglomerative {
                centers,
                profile,
                tree,
            } => {
                check_centers(self.task, centers, profile, pre.width)?;
                tree.check(pre.width)
            }
            Estimator::BgNbd(m) => {
                let ok = [m.r, m.alpha, m.a, m.b]
                    .iter()
                    .all(|v| v.is_finite() && *v > 0.0);
                if self.task != Task::LifetimeValue || pre.width != 3 || !ok {
                    return Err(
                        "a BG/NBD model needs 3 inputs and positive, finite parameters".into(),
                    );
                }
                Ok(())
            }
            Estimator::ParetoNbd(m) => {
                let ok = [m.r, m.alpha, m.s, m.beta]
                    .iter()
                    .all(|v| v.is_finite() && *v > 0.0);
                if self.task != Task::LifetimeValue || pre.width != 3 || !ok {
                    return Err(
                        "a Pareto/NBD model needs 3 inputs and positive, finite parameters".into(),
                    );
                }
                Ok(())
            }
            Estimator::GammaGamma {
                model,
                transactions,
                per_month,
            } => {
                let positive = |v: &f64| v.is_finite() && *v > 0.0;
                let ok = [model.p, model.v].iter().all(positive)
                    && model.q.is_finite()
                    && model.q > 1.0
                    && transactions.is_none_or(|t| t.is_valid())
                    && [1.0, 4.345, 30.0].contains(per_month);
                if self.task != Task::LifetimeValue || pre.width != 4 || !ok {
                    return Err("a Gamma-Gamma model needs 4 inputs, positive finite parameters and q above 1".into());
                }
                Ok(())
            }
            Estimator::Boosted(b) | Estimator::Forest(b) => {
                let fits_task = matches!(
                    self.task,
                    Task::Binary | Task::Multiclass | Task::Regression
                ) && b.outputs == k;
                if !fits_task {
                    return Err(format!(
                        "boosted trees with {} outputs for a {} model with {k} outputs",
                        b.outputs,
                        self.task.as_str()
                    ));
                }
                b.check(pre.width)
            }
        }
    }

    /// The segment centres of a segmentation model (k x width).
    pub fn centers(&self) -> Option<&[f64]> {
        match &self.estimator {
            Estimator::KMeans { centers, .. } | Estimator::Agglomerative { centers, .. } => {
                Some(centers)
            }
            _ => None,
        }
    }
}

fn check_centers(
    task: Task,
    centers: &[f64],
    profile: &super::profile::SegmentProfile,
    width: usize,
) -> Result<(), String> {
    let segments = centers.len() / width;
    if task != Task::Segmentation
        || centers.len() != segments * width
        || !(1..=super::algorithms::kmeans::MAX_K).contains(&segments)
    {
        return Err(format!(
            "{} centre values for {width} inputs in a {} model",
            centers.len(),
            task.as_str()
        ));
    }
    if !centers.iter().all(|v| v.is_finite()) {
        return Err("a segment centre is NaN or infinite".into());
    }
    profile.check(segments, width)
}

/// model_info's view of a linear estimator (of `linear` and `logistic` models alike): the
/// intercept and a coefficient per encoded input, per class for multiclass models.
fn linear_parameters(
    coef: &[f64],
    intercept: &[f64],
    names: &[String],
    task: Task,
    classes: &[String],
) -> serde_json::Value {
    use serde_json::Value;
    let w = names.len();
    let per_output = |k: usize| -> Value {
        Value::Object(
            names
                .iter()
                .cloned()
                .zip(
                    coef[k * w..(k + 1) * w]
                        .iter()
                        .map(|v| serde_json::json!(v)),
                )
                .collect(),
        )
    };
    let scale = "encoded inputs (standardised numbers, one-hot categories)";
    match task {
        Task::Multiclass => serde_json::json!({
            "intercept": Value::Object(classes.iter().cloned().zip(intercept.iter().map(|v| serde_json::json!(v))).collect()),
            "coefficients": Value::Object(classes.iter().cloned().enumerate().map(|(k, c)| (c, per_output(k))).collect()),
            "scale": scale,
        }),
        _ => {
            serde_json::json!({ "intercept": intercept[0], "coefficients": per_output(0), "scale": scale })
        }
    }
}

/// A binary or regression linear model over numeric inputs only, with standardisation folded into
/// the weights: score = base + sum_j w_j * x_j (x_j raw; NULL adds null_term_j). This is the
/// scoring hot path: one multiply-add per input, no encoded vector.
#[derive(Clone, Debug)]
pub struct FoldedLinear {
    pub base: f64,
    pub w: Vec<f64>,
    pub null_term: Vec<f64>,
    pub null_is_error: Vec<bool>,
    pub sigmoid: bool,
}

impl Model {
    /// The folded form of this model, when it has one (binary/regression, numeric inputs).
    pub fn fold_linear(&self) -> Option<FoldedLinear> {
        let Estimator::Linear { coef, intercept } = &self.estimator else {
            return None;
        };
        if self.task == Task::Multiclass {
            return None;
        }
        let mut base = intercept[0];
        let mut w = Vec::new();
        let mut null_term = Vec::new();
        let mut null_is_error = Vec::new();
        for f in &self.preprocessor.features {
            match f.encoding {
                Encoding::Scaled { mean, scale, fill } => {
                    let c = coef[f.offset] / scale;
                    base -= c * mean;
                    w.push(c);
                    null_term.push(c * fill);
                    null_is_error.push(f.null_is_error);
                }
                Encoding::OneHot { .. }
                | Encoding::Coded { .. }
                | Encoding::Text(_)
                | Encoding::Embedded(_) => return None,
            }
        }
        Some(FoldedLinear {
            base,
            w,
            null_term,
            null_is_error,
            sigmoid: self.task == Task::Binary,
        })
    }
}

impl FoldedLinear {
    /// The contribution of input `j` holding `v`: w_j * v, or the imputed term for NULL; None
    /// when `v` cannot be scored (then `fault` says why).
    #[inline(always)]
    pub fn term(&self, j: usize, v: Value<'_>) -> Option<f64> {
        match v {
            Value::Number(x) if x.is_finite() => Some(self.w[j] * x),
            Value::Null if !self.null_is_error[j] => Some(self.null_term[j]),
            _ => None,
        }
    }

    /// Why `term(j, v)` gave None; `feature` names the input.
    #[cold]
    pub fn fault(&self, v: Value<'_>, feature: &str) -> PrepError {
        match v {
            Value::Null => PrepError::Null {
                feature: feature.to_string(),
            },
            _ => PrepError::NotFinite {
                feature: feature.to_string(),
            },
        }
    }

    #[inline]
    pub fn finish(&self, z: f64) -> f64 {
        if self.sigmoid {
            sigmoid(z)
        } else {
            z
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::ml::preprocess::*;

    pub(crate) fn tiny_model() -> Model {
        let specs = vec![
            ColumnSpec {
                name: "a".into(),
                sql_type: "float8".into(),
                kind: ValueKind::Number,
            },
            ColumnSpec {
                name: "c".into(),
                sql_type: "text".into(),
                kind: ValueKind::Text,
            },
        ];
        let data = vec![
            RawColumn::Number(vec![0.0, 2.0]),
            RawColumn::Text {
                dict: vec!["x".into(), "y".into()],
                codes: vec![0, 1],
            },
        ];
        let pre = Preprocessor::fit(&specs, &data, &[0, 1], &PrepOptions::default()).unwrap();
        Model {
            task: Task::Binary,
            classes: vec!["false".into(), "true".into()],
            threshold: 0.5,
            estimator: Estimator::Linear {
                coef: vec![1.0, 0.5, -0.5, 0.0],
                intercept: vec![0.25],
            },
            preprocessor: pre,
        }
    }

    #[test]
    fn centering_categories_keeps_every_score_and_centres_each_column() {
        let specs = vec![
            ColumnSpec {
                name: "a".into(),
                sql_type: "float8".into(),
                kind: ValueKind::Number,
            },
            ColumnSpec {
                name: "c".into(),
                sql_type: "text".into(),
                kind: ValueKind::Text,
            },
        ];
        let data = vec![
            RawColumn::Number(vec![0.0, 2.0, 1.0, 5.0, 3.0]),
            RawColumn::Text {
                dict: vec!["x".into(), "y".into(), "z".into()],
                codes: vec![0, 1, 1, 2, 0],
            },
        ];
        let rows: Vec<usize> = (0..5).collect();
        let pre = Preprocessor::fit(&specs, &data, &rows, &PrepOptions::default()).unwrap();
        let x = pre.encode_rows(&data, &rows).unwrap();
        // collinear: +8 on every category slot, the intercept 8 lower (what an unpenalised fit may give)
        let mut m = Model {
            task: Task::Multiclass,
            classes: vec!["p".into(), "q".into(), "r".into()],
            threshold: 0.5,
            estimator: Estimator::Linear {
                coef: (0..3)
                    .flat_map(|k| vec![0.3 * k as f64, 8.1, 7.9 + k as f64, 8.4, 8.0])
                    .collect(),
                intercept: vec![-8.0, -7.0, -9.5],
            },
            preprocessor: pre,
        };
        let score = |m: &Model, r: usize| {
            let mut out = vec![0.0; 3];
            m.predict_encoded(x.row(r), &mut out);
            out
        };
        let before: Vec<Vec<f64>> = (0..5).map(|r| score(&m, r)).collect();
        let pre = m.preprocessor.clone();
        m.estimator.center_categories(&pre, &x);
        for r in 0..5 {
            for (a, b) in score(&m, r).iter().zip(&before[r]) {
                assert!((a - b).abs() < 1e-12, "row {r}: {a} vs {b}");
            }
        }
        let Estimator::Linear { coef, .. } = &m.estimator else {
            unreachable!()
        };
        let freq = [0.4, 0.4, 0.2, 0.0]; // x, y, z, (other) over the five rows
        for k in 0..3 {
            let mean: f64 = coef[k * 5 + 1..k * 5 + 5]
                .iter()
                .zip(freq)
                .map(|(c, q)| c * q)
                .sum();
            assert!(mean.abs() < 1e-12, "class {k}: weighted mean {mean}");
            assert!(
                coef[k * 5 + 1].abs() < 1.0,
                "the +8 offset is gone: {coef:?}"
            );
        }
    }

    #[test]
    fn codec_round_trips_and_rebuilds_lookups() {
        let m = tiny_model();
        let bytes = m.encode();
        assert_eq!(&bytes[..4], b"PGIM");
        let back = Model::decode(&bytes).unwrap();
        let mut x = vec![0.0; back.preprocessor.width];
        back.preprocessor
            .encode(0, Value::Number(2.0), &mut x)
            .unwrap();
        back.preprocessor
            .encode(1, Value::Text("y"), &mut x)
            .unwrap();
        let mut out = [0.0];
        back.predict_encoded(&x, &mut out);
        // a: (2 - 1)/1 = 1 -> 1.0; c = y -> -0.5; intercept .25 => z = 0.75
        assert!((out[0] - sigmoid(0.75)).abs() < 1e-12);
    }

    /// A recommender of 3 customers and 3 items (ALS factors of width 2).
    fn tiny_recommender() -> Model {
        use crate::ml::recommend::{interactions::Interactions, Recommender, Scorer};
        let r = Interactions::from_triples(3, 3, &[0, 0, 1, 2], &[0, 1, 1, 2], &[1.0; 4]);
        Model::recommender(Recommender::new(
            vec!["c1".into(), "c2".into(), "c3".into()],
            vec!["a".into(), "b".into(), "c".into()],
            r.by_user,
            Scorer::Als {
                factors: 2,
                alpha: 1.0,
                regularization: 0.1,
                user_factors: vec![0.5; 6],
                item_factors: vec![0.25; 6],
            },
        ))
    }

    #[test]
    fn recommenders_round_trip_with_their_keys_and_damage_is_refused() {
        let back = Model::decode(&tiny_recommender().encode()).unwrap();
        let Estimator::Recommender(r) = &back.estimator else {
            panic!("not a recommender")
        };
        // the key lookups are rebuilt after decoding
        assert_eq!(r.customer("c2"), Some(1));
        assert_eq!(r.item("c"), Some(2));
        assert_eq!(
            r.recommend(Some(0), 5, true, &crate::ml::monitor::Silent)
                .len(),
            1
        );
        let corrupt = |m: Model| match Model::decode(&m.encode()) {
            Err(CodecError::Corrupt(msg)) => msg,
            other => panic!("accepted: {other:?}"),
        };
        let with = |f: &dyn Fn(&mut crate::ml::recommend::Recommender)| {
            let mut m = tiny_recommender();
            if let Estimator::Recommender(r) = &mut m.estimator {
                f(r);
            }
            corrupt(m)
        };
        assert!(with(&|r| r.customers[1] = "c1".into()).contains("twice"));
        assert!(with(&|r| r.seen.cols[0] = 9).contains("out of range"));
        assert!(with(&|r| r.popularity[0] = 7).contains("popularity"));
        assert!(with(&|r| {
            if let crate::ml::recommend::Scorer::Als { user_factors, .. } = &mut r.scorer {
                user_factors.pop();
            }
        })
        .contains("ALS factors"));
        assert!(with(&|r| {
            if let crate::ml::recommend::Scorer::Als { factors, .. } = &mut r.scorer {
                *factors = 1 << 20;
            }
        })
        .contains("ALS factors"));
        // a recommender needs the recommendation task and no inputs, and the task a recommender
        let mut m = tiny_recommender();
        m.task = Task::Regression;
        assert!(corrupt(m).contains("recommender"));
        let mut m = tiny_model();
        m.task = Task::Recommendation;
        assert!(corrupt(m).contains("recommender"));
    }

    #[test]
    fn folded_linear_matches_encode_then_predict() {
        let specs = vec![
            ColumnSpec {
                name: "a".into(),
                sql_type: "float8".into(),
                kind: ValueKind::Number,
            },
            ColumnSpec {
                name: "b".into(),
                sql_type: "int4".into(),
                kind: ValueKind::Number,
            },
        ];
        let data = vec![
            RawColumn::Number(vec![1.0, 2.0, 7.0]),
            RawColumn::Number(vec![-3.0, f64::NAN, 5.0]),
        ];
        let pre = Preprocessor::fit(&specs, &data, &[0, 1, 2], &PrepOptions::default()).unwrap();
        let m = Model {
            task: Task::Binary,
            classes: vec!["n".into(), "y".into()],
            threshold: 0.5,
            estimator: Estimator::Linear {
                coef: vec![0.7, -1.3],
                intercept: vec![0.2],
            },
            preprocessor: pre,
        };
        let f = m.fold_linear().unwrap();
        for (a, b) in [
            (Some(1.5), Some(2.0)),
            (Some(-4.0), None),
            (None, Some(0.0)),
        ] {
            let mut x = vec![0.0; 2];
            let va = a.map_or(Value::Null, Value::Number);
            let vb = b.map_or(Value::Null, Value::Number);
            m.preprocessor.encode(0, va, &mut x).unwrap();
            m.preprocessor.encode(1, vb, &mut x).unwrap();
            let mut out = [0.0];
            m.predict_encoded(&x, &mut out);
            let mut z = f.base;
            for (j, v) in [va, vb].into_iter().enumerate() {
                z += f.term(j, v).unwrap();
            }
            assert!((f.finish(z) - out[0]).abs() < 1e-12);
        }
        assert!(
            tiny_model().fold_linear().is_none(),
            "one-hot models are not folded"
        );
    }

    /// Rows that bincode reads but that no training wrote (damaged, or made by hand by a role
    /// allowed to insert into insight.models) are Corrupt: before the check, a width of 2^40
    /// aborted the backend on allocation and bad offsets panicked while scoring.
    #[test]
    fn codec_rejects_models_that_do_not_fit_together() {
        let corrupt = |m: Model| match Model::decode(&m.encode()) {
            Err(CodecError::Corrupt(msg)) => msg,
            other => panic!("decoded a broken model: {other:?}"),
        };
        let mut m = tiny_model();
        m.preprocessor.width = 1 << 40;
        assert!(corrupt(m).contains("encoded inputs"));
        let mut m = tiny_model();
        m.preprocessor.width = 2;
        assert!(corrupt(m).contains("take 4 inputs"));
        let mut m = tiny_model();
        m.preprocessor.features[1].offset = 5;
        assert!(corrupt(m).contains("starts at input 5"));
        let mut m = tiny_model();
        m.task = Task::Multiclass;
        assert!(corrupt(m).contains("2 classes"));
        let mut m = tiny_model();
        m.estimator = Estimator::Linear {
            coef: vec![1.0; 3],
            intercept: vec![0.0],
        };
        assert!(corrupt(m).contains("3 coefficients"));
        let mut m = tiny_model();
        if let Encoding::Scaled { scale, .. } = &mut m.preprocessor.features[0].encoding {
            *scale = 0.0;
        }
        assert!(corrupt(m).contains("scaling"));
        let mut m = tiny_model();
        use crate::ml::algorithms::mlp::{Activation, Head, Mlp};
        use rand::SeedableRng;
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        // three inputs where the model has four
        m.estimator = Estimator::Mlp(Mlp::new(
            3,
            &[2],
            1,
            Activation::Relu,
            Head::Sigmoid,
            false,
            &mut rng,
        ));
        assert!(corrupt(m).contains("network"));
        let mut m = tiny_model();
        m.estimator = Estimator::Linear {
            coef: vec![1.0, f64::NAN, 0.0, 0.0],
            intercept: vec![0.0],
        };
        assert!(corrupt(m).contains("NaN"));
        let mut m = tiny_model();
        m.classes = vec!["a".into(), "a".into()];
        assert!(corrupt(m).contains("2 classes"));
        let mut m = tiny_model();
        if let Encoding::OneHot { categories, .. } = &mut m.preprocessor.features[1].encoding {
            categories[1] = categories[0].clone();
        }
        assert!(corrupt(m).contains("twice"));
        // coded categories are for trees only (a linear model would read a code as a quantity)
        let mut m = tiny_model();
        let f = &mut m.preprocessor.features[1];
        if let Encoding::OneHot { categories, .. } = &f.encoding {
            f.encoding = Encoding::Coded {
                categories: categories.clone(),
                null_is_code_0: false,
            };
        }
        assert!(corrupt(m).contains("not trees"));
        // networks wider or deeper than training makes (a consistent 1 -> 65536 -> 1 network
        // passed before and made explain allocate gigabytes)
        for hidden in [vec![65536], vec![2; 9]] {
            let mut m = tiny_model();
            m.estimator = Estimator::Mlp(Mlp::new(
                4,
                &hidden,
                1,
                Activation::Relu,
                Head::Sigmoid,
                false,
                &mut rng,
            ));
            assert!(corrupt(m).contains("network"), "{hidden:?}");
        }
        // a length prefix that claims 2^40 class labels: refused by the read limit, no allocation
        let mut bytes = tiny_model().encode();
        bytes[10..18].copy_from_slice(&(1u64 << 40).to_le_bytes());
        assert!(matches!(Model::decode(&bytes), Err(CodecError::Corrupt(_))));
    }

    #[test]
    fn codec_rejects_garbage_and_future_versions() {
        assert_eq!(Model::decode(b"nope").unwrap_err(), CodecError::NotAModel);
        let mut bytes = tiny_model().encode();
        bytes[4] = 99;
        assert_eq!(
            Model::decode(&bytes).unwrap_err(),
            CodecError::UnsupportedVersion(99)
        );
        let bytes = tiny_model().encode();
        assert!(matches!(
            Model::decode(&bytes[..10]),
            Err(CodecError::Corrupt(_))
        ));
    }

    /// Property tests (proptest): no byte string makes decoding panic or allocate beyond its
    /// length, and a model that decodes encodes any value of any feature and scores without a
    /// panic: damaged rows are errors, never aborts.
    mod properties {
        use super::*;
        use crate::ml::monitor::Silent;
        use crate::ml::parallel::Parallel;
        use crate::ml::text::model::TextTarget;
        use proptest::prelude::*;

        /// A binary model over one free-text column.
        fn text_model() -> Model {
            let specs = vec![ColumnSpec {
                name: "review".into(),
                sql_type: "text".into(),
                kind: ValueKind::Text,
            }];
            let dict: Vec<String> = ["good coffee", "bad coffee", "late", "fast"]
                .map(String::from)
                .to_vec();
            let codes: Vec<u32> = (0..40).map(|i| (i % 4) as u32).collect();
            let data = vec![RawColumn::Text {
                dict,
                codes: codes.clone(),
            }];
            let rows: Vec<usize> = (0..40).collect();
            let opts = PrepOptions {
                text: TextColumns::All,
                ..Default::default()
            };
            let mut pre = Preprocessor::fit(&specs, &data, &rows, &opts).unwrap();
            let y: Vec<usize> = codes.iter().map(|&c| (c % 2) as usize).collect();
            let w = vec![1.0; 40];
            let target = TextTarget {
                classes: &y,
                n_classes: 2,
                weights: &w,
            };
            pre.fit_text(&data, &rows, &target, &opts, &Parallel::serial(), &Silent)
                .unwrap();
            Model {
                task: Task::Binary,
                classes: vec!["false".into(), "true".into()],
                threshold: 0.5,
                estimator: Estimator::Linear {
                    coef: vec![1.0; pre.width],
                    intercept: vec![0.0],
                },
                preprocessor: pre,
            }
        }

        fn samples() -> Vec<Vec<u8>> {
            vec![
                tiny_model().encode(),
                tiny_recommender().encode(),
                text_model().encode(),
            ]
        }

        /// Decodes; where that succeeds, encodes values of every kind into every feature and
        /// scores the encoded row.
        fn exercise(bytes: &[u8]) {
            let Ok(m) = Model::decode(bytes) else { return };
            if m.task == Task::Recommendation {
                return;
            }
            let mut x = vec![0.0; m.preprocessor.width];
            for j in 0..m.preprocessor.features.len() {
                for v in [
                    Value::Null,
                    Value::Number(1.5),
                    Value::Number(f64::NAN),
                    Value::Text("y"),
                    Value::Text(""),
                    Value::Text("good coffee"),
                ] {
                    let _ = m.preprocessor.encode(j, v, &mut x);
                }
            }
            let mut out = vec![0.0; m.outputs()];
            m.predict_encoded(&x, &mut out);
        }

        proptest! {
            #![proptest_config(ProptestConfig { cases: 10_000, ..ProptestConfig::default() })]

            #[test]
            fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
                exercise(&bytes);
                let mut framed = MAGIC.to_vec();
                framed.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
                framed.extend_from_slice(&bytes);
                exercise(&framed);
                let _ = crate::ml::bundle::Bundle::decode(&bytes);
            }

            #[test]
            fn mutated_models_never_panic(
                which in 0usize..3,
                edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
                cut in any::<prop::sample::Index>(),
                truncate in any::<bool>(),
            ) {
                let mut b = samples()[which].clone();
                for (at, byte) in edits {
                    let i = at.index(b.len());
                    b[i] = byte;
                }
                if truncate {
                    b.truncate(cut.index(b.len() + 1));
                }
                exercise(&b);
            }
        }
    }
}
