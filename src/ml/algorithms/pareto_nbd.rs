//! `algorithm => 'pareto_nbd'`: the Pareto/NBD model (ml::clv::pareto_nbd) over a relation of
//! customers' purchase histories: columns frequency, recency and t (as insight.clv_summary gives
//! them; other names through options), read as they are (no scaling, NULL is an error).

use super::{Algorithm, Learns, Recipe, RecipeContext};
use crate::ml::options::Options;
use crate::ml::problem::Problem;

pub static ALGORITHM: Algorithm = Algorithm {
    name: "pareto_nbd",
    learns: &[Learns::Histories],
    default_for: None,
    options: &["penalizer", "frequency", "recency", "t"],
    native_inputs: false,
    all_text_is_free: false,
    recipe: read_recipe,
};

fn read_recipe(o: &Options, _: &RecipeContext) -> Result<Box<dyn Recipe>, Problem> {
    super::bgnbd::read_history_recipe(o, super::bgnbd::Transactions::ParetoNbd)
}
