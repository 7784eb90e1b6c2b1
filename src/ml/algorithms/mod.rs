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
pub use super::memory::FitShape;
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
    /// The memory the fit needs beyond the encoded rows (which ml::memory::RowShape counts), in
    /// bytes, at its peak: from the options and the shape alone, before anything is allocated.
    /// 0 for algorithms whose working memory is small next to the rows (linear and logistic
    /// models: a few vectors of the inputs' width).
    fn working_memory(&self, _shape: &FitShape) -> u64 {
        0
    }
    /// What lowers `working_memory`: the start of the 53200 hint, e.g. "Lower options.sample_limit".
    fn memory_hint(&self) -> &'static str {
        "Lower the algorithm's options"
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

    fn recipe(name: &str, options: serde_json::Value, learns: Learns) -> Box<dyn Recipe> {
        let o = Options::new(&options, name).expect("options");
        (find(name).expect("registered").recipe)(&o, &RecipeContext { learns, seed: 42 })
            .expect("a recipe")
    }

    fn shape(rows: usize, inputs: usize, classes: usize) -> FitShape {
        FitShape {
            rows,
            inputs,
            classes,
            threads: 2,
        }
    }

    /// The review's cases (F1) are refused under 100 MB from the options and the shape alone,
    /// before anything is allocated; what the estimate says of them is what they take.
    #[test]
    fn working_memory_counts_what_the_algorithms_allocate() {
        use crate::ml::memory::check_fit;
        let limit = 100 << 20;
        // average linkage of 20,000 rows: the condensed matrix alone is 1.6 GB
        let avg = recipe(
            "agglomerative",
            serde_json::json!({"linkage": "average", "sample_limit": 20000, "k": 3}),
            Learns::Segments,
        );
        let w = avg.working_memory(&shape(20_000, 2, 0));
        assert!(w >= 20_000 * 19_999 / 2 * 8 && w < 1_700_000_000, "{w}");
        let p = check_fit("agglomerative", 66 << 20, w, limit, avg.memory_hint()).unwrap_err();
        assert!(p.hint.contains("sample_limit"), "{}", p.hint);
        // only the rows it clusters: 1,000 rows of the same options fit
        assert!(avg.working_memory(&shape(1000, 2, 0)) < 5 << 20);
        // Ward keeps centroids, not the matrix
        let ward = recipe(
            "agglomerative",
            serde_json::json!({"sample_limit": 20000, "k": 3}),
            Learns::Segments,
        );
        assert!(ward.working_memory(&shape(20_000, 2, 0)) < 5 << 20);
        // an mlp of [4096, 4096] on 2 inputs: 16.8 M float32 parameters, copied 8 times
        let mlp = recipe(
            "mlp",
            serde_json::json!({"hidden": [4096, 4096], "epochs": 1}),
            Learns::Classes,
        );
        let w = mlp.working_memory(&shape(800, 2, 2));
        let params = 2 * 4096 + 4096 + 4096 * 4096 + 4096 + 4096 + 1 + 2 + 1;
        assert!(w >= 8 * 4 * params as u64, "{w}");
        assert!(check_fit("mlp", 65 << 20, w, limit, mlp.memory_hint()).is_err());
        // the default network is small
        let small = recipe("mlp", serde_json::json!({}), Learns::Classes);
        assert!(small.working_memory(&shape(100_000, 20, 2)) < 16 << 20);
        // trees: a histogram per splittable leaf (random_forest: 1024 leaves of 24 x 256 bytes
        // an input), and the trees
        let forest = recipe("random_forest", serde_json::json!({}), Learns::Classes);
        let w = forest.working_memory(&shape(100_000, 100, 2));
        assert!(w > 1024 * 100 * 24 * 256, "{w}");
        let gbdt = recipe("gbdt", serde_json::json!({}), Learns::Classes);
        let w = gbdt.working_memory(&shape(100_000, 100, 2));
        assert!(w > 31 * 100 * 24 * 256 && w < 100 << 20, "{w}");
        // k-means: per block of 4096 rows, k x inputs sums
        let km = recipe("kmeans", serde_json::json!({"k": 1000}), Learns::Segments);
        let w = km.working_memory(&shape(1_000_000, 100, 0));
        assert!(w > 245 * 1000 * 100 * 8, "{w}");
        // linear models state none
        let lin = recipe("linear", serde_json::json!({}), Learns::Values);
        assert_eq!(lin.working_memory(&shape(1_000_000, 100, 1)), 0);
    }

    /// Every algorithm's defaults on a small table fit the least setting: the estimates refuse
    /// what is big, not what is ordinary. (A default random_forest on 10,000 rows x 20 inputs
    /// does not: 1024 leaves of 20 x 256-bin histograms, measured 118 MB above the rows.)
    #[test]
    fn defaults_on_a_modest_table_fit_the_least_setting() {
        let least = (crate::ml::memory::LEAST_BUDGET_KB as u64) << 10;
        let rows = crate::ml::memory::RowShape {
            numeric_inputs: 10,
            text_inputs: 0,
            slots_per_text: 1,
            target_bytes: 8,
        }
        .bytes_for(1000);
        for a in ALGORITHMS {
            if a.learns == [Learns::Interactions] || a.learns == [Learns::Histories] {
                continue;
            }
            let learns = a.learns[0];
            let r = recipe(a.name, serde_json::json!({}), learns);
            let w = r.working_memory(&shape(1000, 10, if learns == Learns::Segments { 0 } else { 2 }));
            assert!(rows + w <= least, "{}: {} + {w}", a.name, rows);
        }
    }

    /// Peak memory of one fit against its estimate, measured in this process (run one at a
    /// time: `cargo test --lib measure_working_memory -- --ignored --nocapture`, with
    /// MEASURE=agglomerative|mlp|random_forest|gbdt|kmeans). Not a check: it prints.
    #[test]
    #[ignore]
    fn measure_working_memory() {
        fn status(key: &str) -> u64 {
            let s = std::fs::read_to_string("/proc/self/status").unwrap();
            let l = s.lines().find(|l| l.starts_with(key)).unwrap();
            l.split_whitespace().nth(1).unwrap().parse::<u64>().unwrap() << 10
        }
        let which = std::env::var("MEASURE").unwrap_or_else(|_| "agglomerative".into());
        let (name, options, learns, rows, inputs) = match which.as_str() {
            "agglomerative" => ("agglomerative", serde_json::json!({"linkage": "average", "sample_limit": 8000, "k": 3}), Learns::Segments, 8000, 2),
            "mlp" => ("mlp", serde_json::json!({"hidden": [2048, 2048], "epochs": 2}), Learns::Classes, 2000, 2),
            "random_forest" => ("random_forest", serde_json::json!({"trees": 3}), Learns::Classes, 10_000, 20),
            "gbdt" => ("gbdt", serde_json::json!({"rounds": 5}), Learns::Classes, 100_000, 100),
            _ => ("kmeans", serde_json::json!({"k": 200, "n_init": 1, "max_iter": 3}), Learns::Segments, 200_000, 50),
        };
        let x = Matrix::from_rows(
            &(0..rows)
                .map(|i| (0..inputs).map(|j| ((i * 7919 + j * 104_729) % 10_007) as f64 / 10_007.0).collect())
                .collect::<Vec<Vec<f64>>>(),
        );
        // a noisy target: trees grow to their leaf limit
        let y: Vec<usize> = (0..rows).map(|i: usize| (i.wrapping_mul(2_654_435_761) >> 7) & 1).collect();
        let w = vec![1.0; rows];
        let r = recipe(name, options, learns);
        let par = Parallel::new(2);
        let estimate = r.working_memory(&FitShape { rows, inputs, classes: if learns == Learns::Segments { 0 } else { 2 }, threads: 2 });
        let before = status("VmRSS:");
        let target = if learns == Learns::Segments { Target::None } else { Target::Classes(&y, 2) };
        let f = r.fit(&TrainingData { x: &x, target, weights: &w, levels: &[] }, &FitContext { par: &par, monitor: &crate::ml::monitor::Silent, device: Device::Cpu });
        let peak = status("VmHWM:");
        assert!(f.is_ok());
        println!("{name}: {rows} x {inputs}: peak above the rows {} MB, estimate {} MB", (peak.saturating_sub(before)) >> 20, estimate >> 20);
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
