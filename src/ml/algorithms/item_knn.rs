//! `algorithm => 'item_knn'`: item-item cosine neighbours on the interaction matrix
//! (ml::recommend::item_knn), a baseline for ALS that explains itself ("customers who bought X
//! also bought").

use super::{Algorithm, FitContext, Learns, Recipe, RecipeContext};
use crate::ml::options::Options;
use crate::ml::problem::Problem;
use crate::ml::recommend::interactions::Interactions;
use crate::ml::recommend::{item_knn, Scorer};
use serde_json::{json, Map, Value};

pub static ALGORITHM: Algorithm = Algorithm {
    name: "item_knn",
    learns: &[Learns::Interactions],
    default_for: None,
    options: &["neighbours"],
    native_inputs: false,
    all_text_is_free: false,
    recipe: read_recipe,
};

struct KnnRecipe {
    neighbours: usize,
}

fn read_recipe(o: &Options, _: &RecipeContext) -> Result<Box<dyn Recipe>, Problem> {
    Ok(Box::new(KnnRecipe {
        neighbours: o.usize_in("neighbours", 100, 1, 10_000)?,
    }))
}

impl Recipe for KnnRecipe {
    fn fit_interactions(
        &self,
        data: &Interactions,
        ctx: &FitContext,
    ) -> Result<(Scorer, Map<String, Value>), Problem> {
        let neighbours = item_knn::fit(
            &data.by_user,
            &data.by_item,
            self.neighbours,
            ctx.par,
            ctx.monitor,
        );
        let mut info = Map::new();
        info.insert("similarities".into(), json!(neighbours.nnz()));
        Ok((Scorer::ItemKnn { neighbours }, info))
    }

    fn options(&self) -> Value {
        json!({ "neighbours": self.neighbours })
    }
}
