//! Where a bound row's values go as they are read (data::row::FeatureSink): straight into a
//! folded linear score, or into a model's encoded input vector.

use crate::data::row::FeatureSink;
use crate::error::{ident, InsightError, Result};
use crate::ml::model::{FoldedLinear, Model};
use crate::ml::preprocess::{PrepError, Preprocessor, Value};

/// Sums a folded linear model's terms as the row is read.
pub struct Fold<'a> {
    folded: &'a FoldedLinear,
    model: &'a Model,
    model_name: &'a str,
    pub z: f64,
}

impl<'a> Fold<'a> {
    pub fn new(folded: &'a FoldedLinear, model: &'a Model, model_name: &'a str) -> Self {
        Fold {
            folded,
            model,
            model_name,
            z: folded.base,
        }
    }
}

impl FeatureSink for Fold<'_> {
    #[inline(always)]
    fn take(&mut self, j: usize, v: Value<'_>) -> Result<()> {
        match self.folded.term(j, v) {
            Some(t) => {
                self.z += t;
                Ok(())
            }
            None => Err(encode_err(
                self.model_name,
                self.folded
                    .fault(v, &self.model.preprocessor.features[j].name),
            )),
        }
    }
}

/// Encodes the row into the model's input vector as it is read.
pub struct Encode<'a> {
    pub pre: &'a Preprocessor,
    pub x: &'a mut [f64],
    pub model_name: &'a str,
}

impl FeatureSink for Encode<'_> {
    #[inline(always)]
    fn take(&mut self, j: usize, v: Value<'_>) -> Result<()> {
        self.pre
            .encode(j, v, self.x)
            .map_err(|e| encode_err(self.model_name, e))
    }
}

#[cold]
#[inline(never)]
pub fn encode_err(model_name: &str, e: PrepError) -> InsightError {
    match e {
        PrepError::Null { feature } => InsightError::null_value(
            format!(
                "column {} is NULL and model \"{model_name}\" was trained with impute = error",
                ident(&feature)
            ),
            "Pass a value, or retrain with options => '{\"impute\": \"mean\"}'.",
        ),
        PrepError::NotFinite { feature } => InsightError::data(
            format!("feature {} is NaN or Infinity", ident(&feature)),
            "Pass finite numbers; NULL is imputed.",
        ),
        PrepError::TooLarge { feature } => InsightError::data(
            format!("feature {} is beyond 1e150", ident(&feature)),
            "Rescale the column.",
        ),
        PrepError::WrongKind { feature, expected } => InsightError::datatype_mismatch(
            format!(
                "feature {} must be {expected} for model \"{model_name}\"",
                ident(&feature)
            ),
            "Check the column types against insight.model_info(model)->'features'.",
        ),
        PrepError::AllNull { feature } => {
            InsightError::data(format!("feature {} has no values", ident(&feature)), "")
        }
        PrepError::Embedding { feature, message } => crate::api::embed::failed(&feature, &message),
    }
}
