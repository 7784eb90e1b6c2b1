//! A trained model with what the catalog records about it, as one value: what the training
//! aggregates (insight.kmeans_agg, insight.fit_agg) return as bytea and insight.save_model
//! stores as a version. Anyone can hand save_model any bytes, so decoding checks everything.

use super::model::{CodecError, Model};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

const MAGIC: &[u8; 4] = b"PGIB";
const FORMAT_VERSION: u16 = 1;

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Bundle {
    pub algorithm: String,
    /// The options the model was trained with (a JSON object, as text).
    pub options: String,
    /// Its metrics (a JSON object, as text).
    pub metrics: String,
    /// Rows the aggregate was given (before sampling; rows with NULL inputs or target left out).
    pub n_rows: u64,
    pub test_size: f64,
    pub seed: i64,
    /// The model in its codec (model.rs).
    pub model: Vec<u8>,
}

/// A decoded bundle: its parts checked and parsed.
#[derive(Debug)]
pub struct Unpacked {
    pub algorithm: String,
    pub options: Map<String, Value>,
    pub metrics: Map<String, Value>,
    pub n_rows: u64,
    pub test_size: f64,
    pub seed: i64,
    pub model: Model,
}

impl Bundle {
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(
            self.model
                .len()
                .saturating_add(self.metrics.len())
                .saturating_add(256),
        );
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
        bincode::serialize_into(&mut out, self).expect("serialising to a Vec cannot fail");
        out
    }

    /// Decodes and checks bytes that claim to be a bundle; the error says what is wrong.
    pub fn decode(bytes: &[u8]) -> Result<Unpacked, String> {
        if bytes.len() < 6 || &bytes[..4] != MAGIC {
            return Err(
                "the value is not a model made by insight.kmeans_agg or insight.fit_agg".into(),
            );
        }
        let version = u16::from_le_bytes([bytes[4], bytes[5]]);
        if version != FORMAT_VERSION {
            return Err(format!(
                "the value is in bundle format {version}, which this release cannot read"
            ));
        }
        use bincode::Options;
        let b: Bundle = bincode::DefaultOptions::new()
            .with_fixint_encoding()
            .with_limit(bytes.len() as u64)
            .deserialize(&bytes[6..])
            .map_err(|e| format!("the value cannot be decoded: {e}"))?;
        let model = Model::decode(&b.model).map_err(|e| match e {
            CodecError::UnsupportedVersion(v) => {
                format!("its model is in format {v}, which this release cannot read")
            }
            CodecError::NotAModel => "it holds no model".to_string(),
            CodecError::Corrupt(m) => format!("its model cannot be decoded: {m}"),
        })?;
        let object = |text: &str, what: &str| match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(m)) => Ok(m),
            _ => Err(format!("its {what} are not a JSON object")),
        };
        let options = object(&b.options, "options")?;
        let metrics = object(&b.metrics, "metrics")?;
        // the registry view and deploy read these as float8: numbers (or null) only
        for key in ["roc_auc", "accuracy", "f1", "rmse", "r2", "silhouette"] {
            if metrics
                .get(key)
                .is_some_and(|v| !v.is_null() && !v.as_f64().is_some_and(f64::is_finite))
            {
                return Err(format!("its metric {key} is not a number"));
            }
        }
        if !(b.test_size > 0.0 && b.test_size < 1.0) {
            return Err(format!(
                "its test_size {} is not between 0 and 1",
                b.test_size
            ));
        }
        if b.algorithm.is_empty() || b.algorithm.len() > 64 {
            return Err("its algorithm name is not one".into());
        }
        Ok(Unpacked {
            algorithm: b.algorithm,
            options,
            metrics,
            n_rows: b.n_rows,
            test_size: b.test_size,
            seed: b.seed,
            model,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bundle() -> Bundle {
        Bundle {
            algorithm: "logistic".into(),
            options: r#"{"c": 1.0}"#.into(),
            metrics: r#"{"roc_auc": 0.8}"#.into(),
            n_rows: 10,
            test_size: 0.2,
            seed: 42,
            model: crate::ml::model::tests::tiny_model().encode(),
        }
    }

    #[test]
    fn a_bundle_comes_back_whole() {
        let u = Bundle::decode(&bundle().encode()).unwrap();
        assert_eq!(u.algorithm, "logistic");
        assert_eq!(u.metrics["roc_auc"], 0.8);
        assert_eq!(u.model.encode(), bundle().model);
    }

    #[test]
    fn every_truncation_and_byte_change_is_refused_or_whole() {
        let bytes = bundle().encode();
        for n in 0..bytes.len() {
            assert!(Bundle::decode(&bytes[..n]).is_err(), "truncated to {n}");
        }
        for i in 0..bytes.len() {
            for delta in [1u8, 0x80, 0xff] {
                let mut b = bytes.clone();
                b[i] = b[i].wrapping_add(delta);
                // decoding either fails with a reason or gives a model that passed its checks
                if let Ok(u) = Bundle::decode(&b) {
                    assert!(u.model.check().is_ok());
                }
            }
        }
        let mut wrong = bundle();
        wrong.metrics = "[1]".into();
        assert!(Bundle::decode(&wrong.encode())
            .unwrap_err()
            .contains("metrics"));
        wrong = bundle();
        wrong.metrics = r#"{"roc_auc": "abc"}"#.into();
        assert!(Bundle::decode(&wrong.encode())
            .unwrap_err()
            .contains("roc_auc"));
        wrong = bundle();
        wrong.test_size = 1.0;
        assert!(Bundle::decode(&wrong.encode()).is_err());
    }
}
