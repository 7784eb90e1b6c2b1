//! Reading the `options` jsonb of insight.train: typed getters with defaults and ranges, errors
//! that name the key and what it accepts, and a final check that every key given is known and
//! did something.
//!
//! The getters record which keys were read. An algorithm reads only the keys that apply to what
//! was asked (`momentum` only with optimizer sgd, `threshold` only for a classification target),
//! so a key that was given but never read has no effect: `finish` refuses it rather than let a
//! user believe it changed the model.

use super::problem::Problem;
use serde_json::{Map, Value};
use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};

pub struct Options<'a> {
    map: &'a Map<String, Value>,
    algorithm: &'a str,
    read: RefCell<BTreeSet<&'static str>>,
    /// Why a key does not apply here, where the reader knows.
    not_here: RefCell<BTreeMap<&'static str, String>>,
    /// Options stored with a model (insight.retrain): they hold every key the first training
    /// recorded, defaults included, so a key that does not apply is passed over, not refused.
    stored: bool,
}

/// What `names_or_choice` read.
#[derive(Clone, Debug, PartialEq)]
pub enum NamesOr {
    Names(Vec<String>),
    Choice(&'static str),
}

/// What `number_or_choice` read.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum NumberOr {
    Number(f64),
    Choice(&'static str),
}

impl<'a> Options<'a> {
    pub fn new(value: &'a Value, algorithm: &'a str) -> Result<Self, Problem> {
        let map = value.as_object().ok_or_else(|| {
            Problem::option(
                "options must be a JSON object",
                "Pass options as a jsonb object, e.g. options => '{\"l2\": 0.1}'.",
            )
        })?;
        Ok(Options {
            map,
            algorithm,
            read: RefCell::new(BTreeSet::new()),
            not_here: RefCell::new(BTreeMap::new()),
            stored: false,
        })
    }

    /// Options read back from a stored model (see `stored`).
    pub fn stored(mut self) -> Self {
        self.stored = true;
        self
    }

    fn get(&self, key: &'static str) -> Option<&'a Value> {
        self.read.borrow_mut().insert(key);
        self.map.get(key).filter(|v| !v.is_null())
    }

    /// Records that `key` does not apply in this configuration, and why (used by `finish`).
    pub fn not_applicable(&self, key: &'static str, why: impl Into<String>) {
        self.not_here.borrow_mut().insert(key, why.into());
    }

    fn bad(&self, key: &str, want: &str) -> Problem {
        Problem::option(
            format!(
                "option \"{key}\" of algorithm {} must be {want}",
                self.algorithm
            ),
            format!(
                "Got {}.",
                self.map
                    .get(key)
                    .map_or("nothing".to_string(), |v| v.to_string())
            ),
        )
    }

    /// A number within [min, max] (inclusive), or the default when absent or null.
    pub fn f64_in(
        &self,
        key: &'static str,
        default: f64,
        min: f64,
        max: f64,
        want: &str,
    ) -> Result<f64, Problem> {
        match self.get(key) {
            None => Ok(default),
            Some(v) => match v.as_f64() {
                Some(x) if x.is_finite() && x >= min && x <= max => Ok(x),
                _ => Err(self.bad(key, want)),
            },
        }
    }

    pub fn usize_in(
        &self,
        key: &'static str,
        default: usize,
        min: usize,
        max: usize,
    ) -> Result<usize, Problem> {
        match self.get(key) {
            None => Ok(default),
            Some(v) => match v.as_u64() {
                Some(x) if (x as usize) >= min && (x as usize) <= max => Ok(x as usize),
                _ => Err(self.bad(key, &format!("an integer from {min} to {max}"))),
            },
        }
    }

    /// A non-empty array of at most `max_len` integers within [min, max].
    pub fn usize_list(
        &self,
        key: &'static str,
        default: &[usize],
        min: usize,
        max: usize,
        max_len: usize,
    ) -> Result<Vec<usize>, Problem> {
        let want = || {
            self.bad(
                key,
                &format!("an array of 1 to {max_len} integers from {min} to {max}"),
            )
        };
        match self.get(key) {
            None => Ok(default.to_vec()),
            Some(Value::Array(items)) if !items.is_empty() && items.len() <= max_len => items
                .iter()
                .map(|v| match v.as_u64() {
                    Some(x) if (x as usize) >= min && (x as usize) <= max => Ok(x as usize),
                    _ => Err(want()),
                })
                .collect(),
            _ => Err(want()),
        }
    }

    pub fn bool(&self, key: &'static str, default: bool) -> Result<bool, Problem> {
        match self.get(key) {
            None => Ok(default),
            Some(Value::Bool(b)) => Ok(*b),
            _ => Err(self.bad(key, "true or false")),
        }
    }

    /// A number, or one of the given words (the default when absent or null).
    pub fn number_or_choice(
        &self,
        key: &'static str,
        default: &'static str,
        choices: &[&'static str],
    ) -> Result<NumberOr, Problem> {
        match self.get(key) {
            Some(Value::Number(n)) => n
                .as_f64()
                .filter(|v| v.is_finite())
                .map(NumberOr::Number)
                .ok_or_else(|| self.bad(key, "a finite number")),
            None => Ok(NumberOr::Choice(default)),
            _ => self.choice(key, default, choices).map(NumberOr::Choice),
        }
    }

    /// true, false, or "auto" (and absent or null): Some(true), Some(false), None.
    pub fn bool_or_auto(&self, key: &'static str) -> Result<Option<bool>, Problem> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(Value::String(s)) if s == "auto" => Ok(None),
            _ => Err(self.bad(key, "true, false or \"auto\"")),
        }
    }

    /// One of the given words, or the default.
    pub fn choice(
        &self,
        key: &'static str,
        default: &'static str,
        choices: &[&'static str],
    ) -> Result<&'static str, Problem> {
        match self.get(key) {
            None => Ok(default),
            Some(Value::String(s)) => choices
                .iter()
                .find(|c| **c == s.as_str())
                .copied()
                .ok_or_else(|| self.bad(key, &format!("one of {}", choices.join(", ")))),
            _ => Err(self.bad(key, &format!("one of {}", choices.join(", ")))),
        }
    }

    /// A JSON object, or None when absent or null.
    pub fn object(
        &self,
        key: &'static str,
    ) -> Result<Option<&'a serde_json::Map<String, Value>>, Problem> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Object(m)) => Ok(Some(m)),
            _ => Err(self.bad(key, "a JSON object")),
        }
    }

    /// An array of text values (e.g. column names), or None when absent or null.
    pub fn string_list(&self, key: &'static str) -> Result<Option<Vec<String>>, Problem> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Array(items)) => items
                .iter()
                .map(|v| v.as_str().map(String::from))
                .collect::<Option<Vec<String>>>()
                .map(Some)
                .ok_or_else(|| self.bad(key, "an array of column names")),
            _ => Err(self.bad(key, "an array of column names")),
        }
    }

    /// An array of column names, or one of the words `choices`, or None when absent or null.
    pub fn names_or_choice(
        &self,
        key: &'static str,
        choices: &[&'static str],
    ) -> Result<Option<NamesOr>, Problem> {
        let want = || {
            self.bad(
                key,
                &format!("an array of column names or one of {}", choices.join(", ")),
            )
        };
        match self.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => choices
                .iter()
                .find(|c| **c == s.as_str())
                .map(|c| Some(NamesOr::Choice(c)))
                .ok_or_else(want),
            Some(Value::Array(_)) => self
                .string_list(key)
                .map_err(|_| want())
                .map(|l| l.map(NamesOr::Names)),
            _ => Err(want()),
        }
    }

    pub fn string(&self, key: &'static str) -> Result<Option<String>, Problem> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(Value::Bool(b)) => Ok(Some(b.to_string())),
            Some(Value::Number(n)) => Ok(Some(n.to_string())),
            _ => Err(self.bad(key, "a text value")),
        }
    }

    /// After every reader has run: a key that is not in `known` is unknown; a known key that no
    /// reader asked for has no effect here. Both are errors.
    pub fn finish(&self, known: &[&str]) -> Result<(), Problem> {
        let read = self.read.borrow();
        for k in self.map.keys() {
            if !known.contains(&k.as_str()) {
                return Err(Problem::option(
                    format!("unknown option \"{k}\" for algorithm {}", self.algorithm),
                    format!("Options of {}: {}.", self.algorithm, known.join(", ")),
                ));
            }
            if !self.stored && !read.contains(k.as_str()) && !self.map[k].is_null() {
                let why = self.not_here.borrow().get(k.as_str()).cloned();
                return Err(Problem::option(
                    format!("option \"{k}\" has no effect here"),
                    why.unwrap_or_else(|| {
                        "It does not apply with the other options given; leave it out.".into()
                    }),
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn unknown_keys_and_keys_that_were_not_read_are_refused() {
        let v = json!({"a": 1, "b": true});
        let o = Options::new(&v, "x").unwrap();
        assert_eq!(o.usize_in("a", 0, 0, 5).unwrap(), 1);
        let e = o.finish(&["a"]).unwrap_err();
        assert!(e.message.contains("unknown option \"b\""), "{e:?}");
        let e = o.finish(&["a", "b"]).unwrap_err();
        assert!(e.message.contains("\"b\" has no effect"), "{e:?}");
        o.not_applicable("b", "b applies to y only");
        assert_eq!(
            o.finish(&["a", "b"]).unwrap_err().hint,
            "b applies to y only"
        );
        assert!(o.bool("b", false).unwrap());
        assert!(o.finish(&["a", "b"]).is_ok());
    }

    #[test]
    fn values_out_of_range_name_the_key_and_the_range() {
        let v = json!({"n": 0, "f": "x", "c": "z", "l": []});
        let o = Options::new(&v, "x").unwrap();
        assert!(o
            .usize_in("n", 1, 1, 9)
            .unwrap_err()
            .message
            .contains("\"n\" of algorithm x must be an integer from 1 to 9"));
        assert!(o.f64_in("f", 1.0, 0.0, 2.0, "a number").is_err());
        assert!(o
            .choice("c", "a", &["a", "b"])
            .unwrap_err()
            .message
            .contains("one of a, b"));
        assert!(o.usize_list("l", &[1], 1, 9, 3).is_err());
        assert!(Options::new(&json!([1]), "x").is_err());
        // null means the default
        let v = json!({"n": null});
        let o = Options::new(&v, "x").unwrap();
        assert_eq!(o.usize_in("n", 3, 1, 9).unwrap(), 3);
        assert!(o.finish(&["n"]).is_ok());
    }
}
