//! text_logistic: classification of review text (and whatever other columns the relation has).
//!
//! Every text column is free text: its hashed character and word n-grams, tf-idf weighted, are
//! scored by a logistic regression of their own (ml::text::model), fitted with the preprocessing;
//! this algorithm is then the L2-regularised logistic regression of `logistic` over those scores
//! (out of fold: cross-fitted) and the other columns, encoded as usual. With one text column and
//! nothing else it recalibrates the text model's log-odds (the same ranking, so the same ROC AUC,
//! as scikit-learn's TfidfVectorizer + LogisticRegression on the same n-grams). `logistic` and
//! `mlp` take free text too, for the columns options.text names or that look like it.

use super::{logistic, Algorithm, Learns};

pub static ALGORITHM: Algorithm = Algorithm {
    name: "text_logistic",
    learns: &[Learns::Classes],
    default_for: None,
    options: &["l2", "max_iter", "tol"],
    native_inputs: false,
    all_text_is_free: true,
    recipe: logistic::read_recipe,
};
