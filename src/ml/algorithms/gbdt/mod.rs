//! `algorithm => 'gbdt'`: histogram-based gradient-boosted trees for classification (two or
//! more classes) and regression, as scikit-learn's HistGradientBoosting and LightGBM build them:
//! the trees of ml::trees (binned inputs, leaf-wise growth on gradient histograms, flat
//! storage), boosting with shrinkage, row and input subsampling and early stopping on
//! validation rows carved from the training rows (boost.rs).
//! NULLs are native: with `impute: native` (the default here) a missing number stays missing and
//! each split learns which side it goes to.

pub mod boost;

use super::{Algorithm, FitContext, Fitted, Learns, Recipe, RecipeContext, Target, TrainingData};
use crate::ml::model::Estimator;
use crate::ml::options::Options;
use crate::ml::problem::Problem;
use crate::ml::trees::grow::GrowOptions;
use boost::BoostOptions;
use serde_json::{json, Value};

pub static ALGORITHM: Algorithm = Algorithm {
    name: "gbdt",
    learns: &[Learns::Classes, Learns::Values],
    default_for: None,
    options: &[
        "rounds",
        "learning_rate",
        "max_leaves",
        "max_depth",
        "min_samples_leaf",
        "l2",
        "max_bins",
        "subsample",
        "colsample",
        "early_stopping",
        "validation_fraction",
        "patience",
        "seed",
    ],
    native_inputs: true,
    all_text_is_free: false,
    recipe: read_recipe,
};

struct GbdtRecipe {
    o: BoostOptions,
    /// None ("auto"): on from 10,000 training rows (scikit-learn's rule).
    early_stopping: Option<bool>,
}

fn read_recipe(o: &Options, ctx: &RecipeContext) -> Result<Box<dyn Recipe>, Problem> {
    let d = BoostOptions::default();
    let early_stopping = o.bool_or_auto("early_stopping")?;
    Ok(Box::new(GbdtRecipe {
        o: BoostOptions {
            rounds: o.usize_in("rounds", d.rounds, 1, 10_000)?,
            tree: GrowOptions {
                learning_rate: o.f64_in(
                    "learning_rate",
                    d.tree.learning_rate,
                    1e-6,
                    10.0,
                    "a number from 1e-6 to 10",
                )?,
                max_leaves: o.usize_in("max_leaves", d.tree.max_leaves, 2, 4096)?,
                max_depth: o.usize_in("max_depth", d.tree.max_depth, 0, 64)?,
                min_samples_leaf: o.usize_in(
                    "min_samples_leaf",
                    d.tree.min_samples_leaf,
                    1,
                    1_000_000,
                )?,
                l2: o.f64_in("l2", d.tree.l2, 0.0, 1e6, "a number from 0 to 1e6")?,
                ..d.tree
            },
            max_bins: o.usize_in("max_bins", d.max_bins, 2, 255)?,
            subsample: o.f64_in(
                "subsample",
                d.subsample,
                0.01,
                1.0,
                "a fraction from 0.01 to 1",
            )?,
            colsample: o.f64_in(
                "colsample",
                d.colsample,
                0.01,
                1.0,
                "a fraction from 0.01 to 1",
            )?,
            early_stopping: early_stopping.unwrap_or(false),
            validation_fraction: o.f64_in(
                "validation_fraction",
                d.validation_fraction,
                0.01,
                0.5,
                "a fraction from 0.01 to 0.5",
            )?,
            patience: o.usize_in("patience", d.patience, 1, 1000)?,
            tol: d.tol,
            seed: o.usize_in("seed", ctx.seed as usize, 0, usize::MAX)? as u64,
            levels: Vec::new(),
        },
        early_stopping,
    }))
}

impl Recipe for GbdtRecipe {
    /// One tree's growth (histograms), the trees kept (rounds x outputs), and per training row
    /// and output the scores, gradients, hessians and the best round's scores (8 bytes each).
    fn working_memory(&self, shape: &crate::ml::memory::FitShape) -> u64 {
        use crate::ml::memory::bytes;
        use crate::ml::trees::grow::{growth_bytes, tree_bytes};
        let k = if shape.classes > 2 { shape.classes } else { 1 };
        let o = &self.o;
        growth_bytes(shape.rows, shape.inputs, o.max_bins, &o.tree, shape.threads)
            .saturating_add(
                tree_bytes(shape.rows, &o.tree).saturating_mul((o.rounds as u64).saturating_mul(k as u64)),
            )
            .saturating_add(bytes(shape.rows, 8 * 5).saturating_mul(k as u64))
    }

    fn memory_hint(&self) -> &'static str {
        "Lower options.max_leaves, options.max_bins or options.rounds"
    }

    fn fit(&self, data: &TrainingData, ctx: &FitContext) -> Result<Fitted, Problem> {
        let x = data.x;
        let early = self.early_stopping.unwrap_or(x.rows > 10_000);
        if crate::ml::trees::bins::nothing_to_split(x) {
            return Err(Problem::data(
                "no input varies in the training rows: a tree has nothing to split on",
                "Choose features that differ between rows (insight.train's features => ARRAY[...]).",
            ));
        }

        if early && x.rows < 20 {
            return Err(Problem::data(
                format!(
                    "{} training rows are too few to carve validation rows from",
                    x.rows
                ),
                "Turn early stopping off: options => '{\"early_stopping\": false}'.",
            ));
        }
        let o = BoostOptions {
            early_stopping: early,
            levels: data.levels.to_vec(),
            ..self.o.clone()
        };
        if let Target::Classes(_, k) = data.target {
            if k < 2 {
                return Err(Problem::data(
                    "the target has one class",
                    "A classifier needs rows of at least two classes.",
                ));
            }
        }
        let f = boost::fit(x, &data.target, data.weights, &o, ctx.par, ctx.monitor);
        let leaves: usize = f.model.trees.iter().map(|t| t.leaf_value.len()).sum();
        let info = json!({
            "iterations": f.rounds_run,
            // boosting has no convergence test: it ran its rounds, or early stopping ended it
            "converged": true,
            "rounds": f.model.rounds(),
            "rounds_run": f.rounds_run,
            "best_round": f.best_round,
            "trees": f.model.trees.len(),
            "leaves": leaves,
            "early_stopping": early,
            "validation_rows": f.validation_rows,
            "train_loss": crate::ml::metrics::finite(f.train_loss),
            "best_validation_loss": f.validation_loss.map(crate::ml::metrics::finite),
        });
        Ok(Fitted {
            estimator: Estimator::Boosted(f.model),
            info: match info {
                Value::Object(m) => m,
                _ => unreachable!(),
            },
        })
    }

    fn options(&self) -> Value {
        let o = &self.o;
        json!({
            "rounds": o.rounds,
            "learning_rate": o.tree.learning_rate,
            "max_leaves": o.tree.max_leaves,
            "max_depth": o.tree.max_depth,
            "min_samples_leaf": o.tree.min_samples_leaf,
            "l2": o.tree.l2,
            "max_bins": o.max_bins,
            "subsample": o.subsample,
            "colsample": o.colsample,
            "early_stopping": self.early_stopping.map_or(json!("auto"), |b| json!(b)),
            "validation_fraction": o.validation_fraction,
            "patience": o.patience,
            "seed": o.seed,
        })
    }
}

#[cfg(test)]
pub(crate) mod tests;
