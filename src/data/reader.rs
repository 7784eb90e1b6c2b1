//! Streams a relation through an SPI cursor into compact columns (numbers as f64 with NaN for
//! NULL, text dictionary-coded). Peak memory: 8 bytes per numeric cell, 4 per text cell, plus
//! the distinct strings.

use crate::error::{ident, InsightError, Result};
use crate::ml::preprocess::{RawColumn, ValueKind, NULL_CODE};
use pgrx::prelude::*;
use std::collections::HashMap;

const FETCH_ROWS: i64 = 10_000;

/// What to read: input columns (name, kind) and optionally a target read as text or float8.
pub struct ReadSpec<'a> {
    pub relation: &'a str,
    pub inputs: &'a [(String, ValueKind)],
    pub target: Option<(&'a str, TargetRead)>,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum TargetRead {
    Text,
    Number,
}

pub enum TargetColumn {
    Text(Vec<String>),
    Number(Vec<f64>),
}

pub struct Frame {
    pub columns: Vec<RawColumn>,
    pub target: Option<TargetColumn>,
    pub n_rows: usize,
    /// Rows left out because the target was NULL.
    pub skipped_null_target: usize,
}

enum Builder {
    Number(Vec<f64>),
    Text { dict: Vec<String>, index: HashMap<String, u32>, codes: Vec<u32> },
}

/// Reads the whole relation into one frame.
pub fn read(spec: &ReadSpec) -> Result<Frame> {
    let mut out = None;
    read_batches(spec, usize::MAX, &mut |f| {
        out = Some(f);
        Ok(())
    })?;
    Ok(out.expect("read_batches hands over at least one frame"))
}

fn empty_builders(spec: &ReadSpec) -> Vec<Builder> {
    spec.inputs
        .iter()
        .map(|(_, k)| match k {
            ValueKind::Text => Builder::Text { dict: Vec::new(), index: HashMap::new(), codes: Vec::new() },
            _ => Builder::Number(Vec::new()),
        })
        .collect()
}

fn finish_frame(spec: &ReadSpec, builders: Vec<Builder>, target_text: Vec<String>, target_num: Vec<f64>, skipped: usize) -> Frame {
    let columns: Vec<RawColumn> = builders
        .into_iter()
        .map(|b| match b {
            Builder::Number(v) => RawColumn::Number(v),
            Builder::Text { dict, codes, .. } => RawColumn::Text { dict, codes },
        })
        .collect();
    let target = spec.target.map(|(_, how)| match how {
        TargetRead::Text => TargetColumn::Text(target_text),
        TargetRead::Number => TargetColumn::Number(target_num),
    });
    let n_rows = match &target {
        Some(TargetColumn::Text(v)) => v.len(),
        Some(TargetColumn::Number(v)) => v.len(),
        None => columns.first().map_or(0, |c| c.len()),
    };
    Frame { columns, target, n_rows, skipped_null_target: skipped }
}

/// Streams the relation, handing over a frame whenever at least `max_rows` rows are buffered
/// (and one last frame, possibly empty, at the end): memory stays bounded by `max_rows`.
pub fn read_batches(spec: &ReadSpec, max_rows: usize, on_frame: &mut dyn FnMut(Frame) -> Result<()>) -> Result<()> {
    let mut select: Vec<String> =
        spec.inputs.iter().map(|(n, k)| crate::data::columns::read_expression(n, *k)).collect();
    if let Some((t, how)) = spec.target {
        select.push(match how {
            TargetRead::Text => format!("{}::text", ident(t)),
            TargetRead::Number => format!("{}::float8", ident(t)),
        });
    }
    if select.is_empty() {
        select.push("1".into());
    }
    let query = format!("SELECT {} FROM {}", select.join(", "), spec.relation);
    let mut builders: Vec<Builder> = empty_builders(spec);
    let mut target_text: Vec<String> = Vec::new();
    let mut target_num: Vec<f64> = Vec::new();
    let mut skipped = 0usize;
    let n_in = spec.inputs.len();

    Spi::connect(|client| -> Result<()> {
        let mut cursor = client.open_cursor(query.as_str(), &[]);
        loop {
            pgrx::check_for_interrupts!();
            let batch = cursor.fetch(FETCH_ROWS).expect("cursor fetch");
            if batch.is_empty() {
                break;
            }
            for row in batch {
                if let Some((tname, how)) = spec.target {
                    let ord = n_in + 1;
                    match how {
                        TargetRead::Text => match row.get::<String>(ord).ok().flatten() {
                            Some(v) => target_text.push(v),
                            None => {
                                skipped += 1;
                                continue;
                            }
                        },
                        TargetRead::Number => match row.get::<f64>(ord).ok().flatten() {
                            Some(v) if v.is_finite() => target_num.push(v),
                            Some(_) => {
                                return Err(InsightError::data(
                                    format!("target column {} contains NaN or Infinity", ident(tname)),
                                    "Filter those rows out, e.g. train on a view with WHERE target <> 'NaN'.",
                                ))
                            }
                            None => {
                                skipped += 1;
                                continue;
                            }
                        },
                    }
                }
                for (j, b) in builders.iter_mut().enumerate() {
                    match b {
                        Builder::Number(v) => {
                            let x = row.get::<f64>(j + 1).ok().flatten();
                            match x {
                                Some(x) if !x.is_finite() => {
                                    return Err(InsightError::data(
                                        format!(
                                            "column {} contains {} ",
                                            ident(&spec.inputs[j].0),
                                            if x.is_nan() { "NaN" } else { "Infinity" }
                                        )
                                        .trim_end()
                                        .to_string(),
                                        "Models need finite numbers: replace NaN/Infinity with NULL (it is imputed) or filter those rows out.",
                                    ))
                                }
                                Some(x) => v.push(x),
                                None => v.push(f64::NAN),
                            }
                        }
                        Builder::Text { dict, index, codes } => match row.get::<String>(j + 1).ok().flatten() {
                            None => codes.push(NULL_CODE),
                            Some(s) => {
                                let code = match index.get(&s) {
                                    Some(&c) => c,
                                    None => {
                                        let c = dict.len() as u32;
                                        dict.push(s.clone());
                                        index.insert(s, c);
                                        c
                                    }
                                };
                                codes.push(code);
                            }
                        },
                    }
                }
            }
            let buffered = if spec.target.is_some() { target_text.len() + target_num.len() } else {
                builders.first().map_or(0, |b| match b {
                    Builder::Number(v) => v.len(),
                    Builder::Text { codes, .. } => codes.len(),
                })
            };
            if buffered >= max_rows {
                let full = std::mem::replace(&mut builders, empty_builders(spec));
                let frame = finish_frame(spec, full, std::mem::take(&mut target_text), std::mem::take(&mut target_num), skipped);
                skipped = 0;
                on_frame(frame)?;
            }
        }
        Ok(())
    })?;
    on_frame(finish_frame(spec, builders, target_text, target_num, skipped))
}
