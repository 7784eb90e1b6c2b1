//! `algorithm => 'als'`: implicit-feedback matrix factorisation (ml::recommend::als) over a
//! relation of interactions (customer, item and optionally a strength, named by options).

use super::{Algorithm, FitContext, Learns, Recipe, RecipeContext};
use crate::ml::options::Options;
use crate::ml::problem::Problem;
use crate::ml::recommend::als::{fit, AlsOptions, MAX_FACTORS};
use crate::ml::recommend::interactions::Interactions;
use crate::ml::recommend::Scorer;
use serde_json::{json, Map, Value};

pub static ALGORITHM: Algorithm = Algorithm {
    name: "als",
    learns: &[Learns::Interactions],
    default_for: None,
    options: &[
        "factors",
        "regularization",
        "alpha",
        "iterations",
        "cg_steps",
        "seed",
    ],
    native_inputs: false,
    all_text_is_free: false,
    recipe: read_recipe,
};

struct AlsRecipe {
    o: AlsOptions,
}

fn read_recipe(o: &Options, ctx: &RecipeContext) -> Result<Box<dyn Recipe>, Problem> {
    let d = AlsOptions::default();
    Ok(Box::new(AlsRecipe {
        o: AlsOptions {
            factors: o.usize_in("factors", d.factors, 1, MAX_FACTORS)?,
            regularization: o.f64_in(
                "regularization",
                f64::from(d.regularization),
                0.0,
                1e6,
                "a number from 0 to 1e6",
            )? as f32,
            alpha: o.f64_in(
                "alpha",
                f64::from(d.alpha),
                0.0,
                1e6,
                "a number from 0 to 1e6",
            )? as f32,
            iterations: o.usize_in("iterations", d.iterations, 1, 1000)?,
            cg_steps: o.usize_in("cg_steps", d.cg_steps, 1, 100)?,
            seed: o.usize_in("seed", ctx.seed as usize, 0, usize::MAX)? as u64,
        },
    }))
}

impl Recipe for AlsRecipe {
    fn fit_interactions(
        &self,
        data: &Interactions,
        ctx: &FitContext,
    ) -> Result<(Scorer, Map<String, Value>), Problem> {
        let f = fit(&data.by_user, &data.by_item, &self.o, ctx.par, ctx.monitor);
        let mut info = Map::new();
        info.insert("iterations".into(), json!(self.o.iterations));
        info.insert(
            "train_loss".into(),
            json!(crate::ml::metrics::finite(f.loss)),
        );
        Ok((
            Scorer::Als {
                factors: self.o.factors,
                alpha: self.o.alpha,
                regularization: self.o.regularization,
                user_factors: f.user_factors,
                item_factors: f.item_factors,
            },
            info,
        ))
    }

    fn options(&self) -> Value {
        json!({
            "factors": self.o.factors,
            "regularization": self.o.regularization,
            "alpha": self.o.alpha,
            "iterations": self.o.iterations,
            "cg_steps": self.o.cg_steps,
            "seed": self.o.seed,
        })
    }
}
