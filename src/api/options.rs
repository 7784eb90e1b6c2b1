//! Parsing and checking the `options` jsonb of insight.train: unknown keys and out-of-range values
//! are errors that name the key and the accepted values.

use crate::error::{InsightError, Result};
use serde_json::{Map, Value};

pub struct Options<'a> {
    map: &'a Map<String, Value>,
    algorithm: &'a str,
}

impl<'a> Options<'a> {
    pub fn new(value: &'a Value, algorithm: &'a str, allowed: &'a [&'a str]) -> Result<Self> {
        let map = value.as_object().ok_or_else(|| {
            InsightError::invalid_parameter(
                "options must be a JSON object",
                "Pass options as a jsonb object, e.g. options => '{\"l2\": 0.1}'.",
            )
        })?;
        for k in map.keys() {
            if !allowed.contains(&k.as_str()) {
                return Err(InsightError::invalid_parameter(
                    format!("unknown option \"{k}\" for algorithm {algorithm}"),
                    format!("Options of {algorithm}: {}.", allowed.join(", ")),
                ));
            }
        }
        Ok(Options { map, algorithm })
    }

    fn bad(&self, key: &str, want: &str) -> InsightError {
        InsightError::invalid_parameter(
            format!("option \"{key}\" of algorithm {} must be {want}", self.algorithm),
            format!("Got {}.", self.map.get(key).map_or("nothing".to_string(), |v| v.to_string())),
        )
    }

    /// A number within [min, max] (inclusive), or the default when absent or null.
    pub fn f64_in(&self, key: &str, default: f64, min: f64, max: f64, want: &str) -> Result<f64> {
        match self.map.get(key) {
            None | Some(Value::Null) => Ok(default),
            Some(v) => match v.as_f64() {
                Some(x) if x.is_finite() && x >= min && x <= max => Ok(x),
                _ => Err(self.bad(key, want)),
            },
        }
    }

    pub fn usize_in(&self, key: &str, default: usize, min: usize, max: usize) -> Result<usize> {
        match self.map.get(key) {
            None | Some(Value::Null) => Ok(default),
            Some(v) => match v.as_u64() {
                Some(x) if (x as usize) >= min && (x as usize) <= max => Ok(x as usize),
                _ => Err(self.bad(key, &format!("an integer from {min} to {max}"))),
            },
        }
    }

    /// A non-empty array of at most `max_len` integers within [min, max].
    pub fn usize_list(&self, key: &str, default: &[usize], min: usize, max: usize, max_len: usize) -> Result<Vec<usize>> {
        match self.map.get(key) {
            None | Some(Value::Null) => Ok(default.to_vec()),
            Some(Value::Array(items)) if !items.is_empty() && items.len() <= max_len => items
                .iter()
                .map(|v| match v.as_u64() {
                    Some(x) if (x as usize) >= min && (x as usize) <= max => Ok(x as usize),
                    _ => Err(self.bad(key, &format!("an array of 1 to {max_len} integers from {min} to {max}"))),
                })
                .collect(),
            _ => Err(self.bad(key, &format!("an array of 1 to {max_len} integers from {min} to {max}"))),
        }
    }

    pub fn bool(&self, key: &str, default: bool) -> Result<bool> {
        match self.map.get(key) {
            None | Some(Value::Null) => Ok(default),
            Some(Value::Bool(b)) => Ok(*b),
            _ => Err(self.bad(key, "true or false")),
        }
    }

    /// One of the given words, or the default.
    pub fn choice(&self, key: &str, default: &'static str, choices: &[&'static str]) -> Result<&'static str> {
        match self.map.get(key) {
            None | Some(Value::Null) => Ok(default),
            Some(Value::String(s)) => choices
                .iter()
                .find(|c| **c == s.as_str())
                .copied()
                .ok_or_else(|| self.bad(key, &format!("one of {}", choices.join(", ")))),
            _ => Err(self.bad(key, &format!("one of {}", choices.join(", ")))),
        }
    }

    pub fn string(&self, key: &str) -> Result<Option<String>> {
        match self.map.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(Value::Bool(b)) => Ok(Some(b.to_string())),
            Some(Value::Number(n)) => Ok(Some(n.to_string())),
            _ => Err(self.bad(key, "a text value")),
        }
    }
}
