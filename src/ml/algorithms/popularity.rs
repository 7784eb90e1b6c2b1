//! `algorithm => 'popularity'`: the items most customers interacted with, the same list for
//! everyone (minus what a customer already has): the baseline every recommender must beat.

use super::{Algorithm, FitContext, Learns, Recipe, RecipeContext};
use crate::ml::options::Options;
use crate::ml::problem::Problem;
use crate::ml::recommend::interactions::Interactions;
use crate::ml::recommend::Scorer;
use serde_json::{json, Map, Value};

pub static ALGORITHM: Algorithm = Algorithm {
    name: "popularity",
    learns: &[Learns::Interactions],
    default_for: None,
    options: &[],
    native_inputs: false,
    all_text_is_free: false,
    recipe: read_recipe,
};

struct PopularityRecipe;

fn read_recipe(_: &Options, _: &RecipeContext) -> Result<Box<dyn Recipe>, Problem> {
    Ok(Box::new(PopularityRecipe))
}

impl Recipe for PopularityRecipe {
    fn fit_interactions(
        &self,
        _data: &Interactions,
        _ctx: &FitContext,
    ) -> Result<(Scorer, Map<String, Value>), Problem> {
        // the counts live in every recommender (Recommender::popularity)
        Ok((Scorer::Popularity, Map::new()))
    }

    fn options(&self) -> Value {
        json!({})
    }
}
