//! Per-backend cache of decoded models, and the per-statement resolution of model names.
//!
//! Versions are immutable rows, so a decoded model is cached for the life of the backend, keyed by
//! the row version (id, xmin, cmin): a row replaced under the same id is decoded anew.
//! Which version `'name'` means can change at any time (insight.deploy), so a name is resolved
//! again whenever the statement or command changes: a new deployment is seen by the next
//! statement of every session without reconnecting, and a row-by-row scan pays for one catalog
//! lookup per statement, not per row (see api::predict's Stamp).

use crate::error::{InsightError, Result};
use crate::ml::model::{CodecError, Model};
use crate::store::catalog::{self, StoredModel};
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

thread_local! {
    static MODELS: RefCell<HashMap<i64, (StoredModel, Rc<Model>)>> = RefCell::new(HashMap::new());
}

/// At most this many decoded models stay cached per backend.
const MAX_CACHED: usize = 64;

pub fn load(stored: StoredModel) -> Result<Rc<Model>> {
    let id = stored.id;
    if let Some((_, m)) =
        MODELS.with(|c| c.borrow().get(&id).filter(|(s, _)| *s == stored).cloned())
    {
        // a model with embedded text holds the sentence model of insight.embedding_model_path
        // when it was loaded: if the setting names another since, attach (and check) again
        if crate::api::embed::is_attached(&m) {
            return Ok(m);
        }
    }
    let bytes = catalog::weights(id);
    let model = Model::decode(&bytes).map_err(|e| match e {
        CodecError::UnsupportedVersion(v) => InsightError::corrupt(
            format!("model row {id} was written in model format {v}, which this pg_insight release cannot read"),
            "Upgrade pg_insight (ALTER EXTENSION pg_insight UPDATE) or retrain the model.",
        ),
        CodecError::NotAModel => InsightError::corrupt(
            format!("insight.models row {id} does not hold a pg_insight model in its weights"),
            "Retrain the model; do not edit insight.models.weights by hand.",
        ),
        CodecError::Corrupt(msg) => InsightError::corrupt(
            format!("model row {id} cannot be decoded: {msg}"),
            "Retrain the model; do not edit insight.models.weights by hand.",
        ),
    })?;
    let mut model = model;
    // a model whose text is embedded scores with the sentence model of this server
    crate::api::embed::attach(&mut model, &format!("row {id}"))?;
    let model = Rc::new(model);
    MODELS.with(|c| {
        let mut c = c.borrow_mut();
        if c.len() >= MAX_CACHED {
            c.clear();
        }
        c.insert(id, (stored, model.clone()));
    });
    Ok(model)
}
