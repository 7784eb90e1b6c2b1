//! The algorithms pg_insight trains: one module each, listed in [`ALGORITHMS`].
//!
//! An algorithm's module declares, in one place: its name and what it learns ([`Algorithm`]), its
//! own option keys and how it reads them into a [`Recipe`] (defaults and ranges next to the key),
//! how the recipe fits from the prepared training rows with the thread pool and the monitor, and
//! what the fit adds to the metrics. Its estimator variant (and what model_info shows of it) is in
//! the codec, ml::model. The train pipeline (api::train) reads this registry and knows nothing
//! about any one algorithm: adding one is a module here, a line in ALGORITHMS and an estimator
//! variant.

pub mod agglomerative;
pub mod als;
pub mod bgnbd;
pub mod gamma_gamma;
pub mod gbdt;
pub mod item_knn;
pub mod kmeans;
pub mod linear;
pub mod logistic;
pub mod mlp;
pub mod pareto_nbd;
pub mod popularity;
pub mod random_forest;
pub mod text_logistic;

use super::linalg::Matrix;
use super::model::Estimator;
use super::monitor::Monitor;
use super::options::Options;
use super::parallel::Parallel;
use super::problem::Problem;
use serde_json::{Map, Value};

/// Every algorithm `insight.train` knows, in the order the docs list them.
pub static ALGORITHMS: &[&Algorithm] = &[
    &logistic::ALGORITHM,
    &linear::ALGORITHM,
    &mlp::ALGORITHM,
    &gbdt::ALGORITHM,
    &random_forest::ALGORITHM,
    &text_logistic::ALGORITHM,
    &kmeans::ALGORITHM,
    &agglomerative::ALGORITHM,
    &bgnbd::ALGORITHM,
    &gamma_gamma::ALGORITHM,
    &pareto_nbd::ALGORITHM,
    &als::ALGORITHM,
    &item_knn::ALGORITHM,
    &popularity::ALGORITHM,
];

/// Algorithms of the SQL contract that later releases add (named in the unknown-algorithm error).
pub const PLANNED: &[&str] = &[];

/// What an algorithm learns from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Learns {
    /// Labels: binary or multiclass classification.
    Classes,
    /// A number: regression.
    Values,
    /// No target: segments of similar rows.
    Segments,
    /// No target: customers' purchase histories (frequency, recency, T).
    Histories,
    /// No target: which customers interacted with which items (recommendation).
    Interactions,
}

impl Learns {
    pub fn describe(self) -> &'static str {
        match self {
            Learns::Classes => "classification",
            Learns::Values => "regression",
            Learns::Segments => "segmentation",
            Learns::Histories => "lifetime value",
            Learns::Interactions => "recommendation",
        }
    }
}

pub struct Algorithm {
    pub name: &'static str,
    /// What it can learn from: one kind fixes the task, several let the target decide.
    pub learns: &'static [Learns],
    /// Chosen when insight.train gets no algorithm and the target is of this kind.
    pub default_for: Option<Learns>,
    /// Its own option keys; the pipeline's (preprocessing, and classifier options for algorithms
    /// that learn classes) come on top.
    pub options: &'static [&'static str],
    /// Whether it takes missing numbers and categories as they are (trees: NaN in the encoded
    /// inputs, and a category as one input holding its code): then option `impute` also takes
    /// `native` and option `categories` also `native`, their defaults.
    pub native_inputs: bool,
    /// Every text column is free text (reviews) unless options.text names others: see
    /// ml::preprocess::TextColumns. Otherwise only those that look like it are.
    pub all_text_is_free: bool,
    /// Reads its options into a recipe. Runs before any data is read.
    pub recipe: ReadRecipe,
}

/// How an algorithm reads its options into a recipe.
pub type ReadRecipe = fn(&Options, &RecipeContext) -> Result<Box<dyn Recipe>, Problem>;

/// Option keys every algorithm takes: how columns become model inputs (ml::preprocess).
pub const PREPROCESSING_OPTIONS: &[&str] = &["impute", "max_categories", "scale", "categories"];
/// Option keys of free text (ml::preprocess::TextColumns): algorithms that learn classes.
pub const TEXT_OPTIONS: &[&str] = &[
    "text",
    "text_vectors",
    "ngram_range",
    "word_ngram_range",
    "hash_bits",
    "max_chars",
    "text_l2",
    "text_folds",
];
/// Option keys of every recommender: the interaction columns (customer, item, strength).
pub const INTERACTION_OPTIONS: &[&str] = &["customer", "item", "strength"];
/// Option keys of every algorithm that learns classes (see [`ClassifierOptions`]).
pub const CLASSIFIER_OPTIONS: &[&str] = &["class_weight", "threshold", "positive_class"];

impl Algorithm {
    /// Every option key this algorithm accepts.
    pub fn known_options(&self) -> Vec<&'static str> {
        let mut keys: Vec<&'static str> = self.options.to_vec();
        if self.learns.contains(&Learns::Classes) {
            keys.extend_from_slice(CLASSIFIER_OPTIONS);
        }
        let classes = self.learns.contains(&Learns::Classes);
        if self.learns == [Learns::Interactions] {
            // interactions are read as keys and strengths: nothing to preprocess
            keys.extend_from_slice(INTERACTION_OPTIONS);
        } else {
            keys.extend_from_slice(PREPROCESSING_OPTIONS);
            if classes {
                keys.extend_from_slice(TEXT_OPTIONS);
            }
        }
        keys
    }
}

/// The columns a lifetime-value algorithm reads, in its input order: (option key, default name).
pub fn history_columns(algorithm: &str) -> &'static [(&'static str, &'static str)] {
    if algorithm == "gamma_gamma" {
        &gamma_gamma::COLUMNS
    } else {
        &bgnbd::HISTORY_COLUMNS
    }
}

pub fn find(name: &str) -> Option<&'static Algorithm> {
    ALGORITHMS.iter().copied().find(|a| a.name == name)
}

/// The algorithm picked for a target of this kind when none is named.
pub fn default_for(learns: Learns) -> &'static Algorithm {
    ALGORITHMS
        .iter()
        .copied()
        .find(|a| a.default_for == Some(learns))
        .expect("every kind of target has a default")
}

pub fn names() -> Vec<&'static str> {
    ALGORITHMS.iter().map(|a| a.name).collect()
}

/// What a recipe is read for.
pub struct RecipeContext {
    pub learns: Learns,
    /// train's `seed` argument (algorithms may take their own).
    pub seed: u64,
}

/// An algorithm with its options read: ready to fit.
pub trait Recipe {
    /// Fits on encoded rows (every algorithm but the recommenders).
    fn fit(&self, _data: &TrainingData, _ctx: &FitContext) -> Result<Fitted, Problem> {
        Err(Problem::data(
            "this algorithm learns from interactions, not from rows",
            "Train it on a relation of (customer, item[, strength]) rows.",
        ))
    }
    /// Recommenders fit on interactions instead of encoded rows: the scorer and what the fit
    /// adds to the metrics.
    fn fit_interactions(
        &self,
        _data: &super::recommend::interactions::Interactions,
        _ctx: &FitContext,
    ) -> Result<(super::recommend::Scorer, Map<String, Value>), Problem> {
        Err(Problem::data(
            "this algorithm does not learn from interactions",
            "Use als, item_knn or popularity.",
        ))
    }
    /// The hyper-parameters as stored in insight.models.options.
    fn options(&self) -> Value;
    /// Whether it runs on insight.device (cpu or cuda) rather than always on the CPU.
    fn uses_device(&self) -> bool {
        false
    }
}

/// The encoded training rows, their target and sample weights.
pub struct TrainingData<'a> {
    pub x: &'a Matrix,
    pub target: Target<'a>,
    pub weights: &'a [f64],
    /// Per input: the codes of a coded category (`Preprocessor::input_levels`), 0 for a number;
    /// empty: all numbers. Only trees read it (one-hot everywhere else).
    pub levels: &'a [usize],
}

/// Class indices (with the number of classes), values, or none (segmentation).
#[derive(Clone, Copy)]
pub enum Target<'a> {
    Classes(&'a [usize], usize),
    Values(&'a [f64]),
    None,
}

/// Where a network runs; everything else runs on the CPU.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Device {
    Cpu,
    Cuda,
}

pub struct FitContext<'a> {
    pub par: &'a Parallel,
    pub monitor: &'a dyn Monitor,
    pub device: Device,
}

/// A fitted estimator and what the fit adds to the model's metrics.
pub struct Fitted {
    pub estimator: Estimator,
    pub info: Map<String, Value>,
}

/// The options of every classifier: how classes are weighted, which one is positive, where the
/// decision threshold sits.
pub struct ClassifierOptions {
    pub class_weight: &'static str,
    pub threshold: f64,
    pub positive_class: Option<String>,
}

impl ClassifierOptions {
    pub fn read(o: &Options) -> Result<ClassifierOptions, Problem> {
        Ok(ClassifierOptions {
            class_weight: o.choice("class_weight", "none", &["none", "balanced"])?,
            threshold: o.f64_in("threshold", 0.5, 0.0, 1.0, "a number from 0 to 1")?,
            positive_class: o.string("positive_class")?,
        })
    }

    /// Records, for `Options::finish`, why these keys do nothing for a regression target.
    pub fn not_for_regression(o: &Options) {
        for k in CLASSIFIER_OPTIONS {
            o.not_applicable(
                k,
                format!("Option \"{k}\" applies to classification; this target is regressed."),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_of_target_has_exactly_one_default_and_names_are_unique() {
        for l in [Learns::Classes, Learns::Values] {
            // segments are never a default: without a target, train asks for an algorithm
            let defaults: Vec<&str> = ALGORITHMS
                .iter()
                .filter(|a| a.default_for == Some(l))
                .map(|a| a.name)
                .collect();
            assert_eq!(defaults.len(), 1, "{l:?}: {defaults:?}");
            assert!(default_for(l).learns.contains(&l));
        }
        let mut names = names();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), ALGORITHMS.len());
        assert!(
            names.iter().all(|n| !PLANNED.contains(n)),
            "a released algorithm is still listed as planned"
        );
    }

    #[test]
    fn option_keys_are_not_declared_twice() {
        for a in ALGORITHMS {
            let mut keys = a.known_options();
            let n = keys.len();
            keys.sort();
            keys.dedup();
            assert_eq!(keys.len(), n, "{} declares a key twice", a.name);
        }
    }
}
