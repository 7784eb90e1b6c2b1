//! insight.score_table: nightly bulk scoring of a whole table into another, in bounded memory.

use crate::api::evaluate::feature_inputs;
use crate::api::regclass::RegClass;
use crate::data::columns;
use crate::data::reader::{self, ReadSpec, TargetColumn, TargetRead};
use crate::error::{ident, required, InsightError, OrRaise, Result};
use crate::ml::metrics::argmax;
use crate::ml::model::Task;
use crate::store::{cache, catalog};
use pgrx::prelude::*;
use std::time::Instant;

/// Rows scored and written per batch: the memory bound of a call.
const BATCH_ROWS: usize = 10_000;

/// Scores every row of `source` with `model` and writes (key, score) or (key, class) rows into
/// `target`, creating it when missing; `mode` 'replace' empties an existing target first. Returns
/// the number of rows written. Called by the procedure insight.score_table.
#[pg_extern(volatile, parallel_unsafe, name = "_score_table")]
fn score_table_rows(
    model: Option<&str>,
    source: Option<RegClass>,
    target: Option<&str>,
    key: Option<&str>,
    mode: default!(Option<&str>, "'append'"),
    output: default!(Option<&str>, "NULL"),
) -> i64 {
    let hint = "CALL insight.score_table(model, source_table, target_table, key_column[, mode[, output]]).";
    (|| {
        let relid = required(source, "source", hint)?.oid()?;
        run(
            required(model, "model", hint)?,
            relid,
            required(target, "target", hint)?,
            required(key, "key", hint)?,
            required(mode, "mode", hint)?,
            output,
        )
    })()
    .or_raise()
}

/// What score_table writes per row.
#[derive(Clone, Copy, PartialEq)]
enum Written {
    /// float8 `score`: P(positive), the value, or the probability of the predicted class
    Score,
    /// text `class`: the predicted label, as predict_class
    Class,
    /// int `segment`: the segment number, as insight.segment
    Segment,
}

fn run(
    model_ref: &str,
    relid: pg_sys::Oid,
    target: &str,
    key: &str,
    mode: &str,
    output: Option<&str>,
) -> Result<i64> {
    if mode != "append" && mode != "replace" {
        return Err(InsightError::invalid_parameter(
            format!("mode must be append or replace, got \"{mode}\""),
            "replace empties the target table before writing the new scores.",
        ));
    }
    let started = Instant::now();
    let model = cache::load(catalog::resolve(&catalog::parse_ref(model_ref)?)?)?;
    crate::api::predict::refuse_recommender(model_ref, &model)?;
    let written_kind = match (output, model.task) {
        (None | Some("segment"), Task::Segmentation) => Written::Segment,
        (Some(other), Task::Segmentation) => {
            return Err(InsightError::invalid_parameter(
                format!("output must be segment for a segmentation model, got \"{other}\""),
                "Leave output out: score_table writes the segment number as int column segment.",
            ))
        }
        (None, Task::Multiclass) | (Some("class"), Task::Binary | Task::Multiclass) => Written::Class,
        (None, _) | (Some("score"), _) => Written::Score,
        (Some("class"), Task::Regression) => {
            return Err(InsightError::not_supported(
                format!("model \"{model_ref}\" is a regression model and has no classes"),
                "Leave output out (or 'score') to write the predicted values.",
            ))
        }
        (Some(other), _) => {
            return Err(InsightError::invalid_parameter(
                format!("output must be score or class, got \"{other}\""),
                "score writes a float8 column score; class writes the predicted label as text column class (segment: for segmentation models).",
            ))
        }
    };
    let (column, column_type) = match written_kind {
        Written::Score => ("score", "pg_catalog.float8"),
        Written::Class => ("class", "pg_catalog.text"),
        Written::Segment => ("segment", "pg_catalog.int4"),
    };
    let relation = columns::relation_name(relid);
    let cols = columns::relation_columns(relid);
    let key_col = columns::find(&cols, key, &relation, "key")?.clone();
    let inputs = feature_inputs(&model, &cols, &relation, model_ref)?;
    let target_name = quoted_target(target)?;
    let exists = crate::spi::select_one::<bool>(
        "SELECT pg_catalog.to_regclass($1) IS NOT NULL",
        &[target_name.as_str().into()],
    )
    .unwrap_or(false);
    if exists
        && crate::spi::select_one::<bool>(
            "SELECT pg_catalog.to_regclass($1) OPERATOR(pg_catalog.=) $2",
            &[target_name.as_str().into(), relid.into()],
        ) == Some(true)
    {
        return Err(InsightError::invalid_parameter(
            format!("target table {target_name} is the source relation"),
            "score_table writes into another table (mode replace would empty the source first): name a new one.",
        ));
    }
    if exists {
        for needed in [key, column] {
            let has = crate::spi::select_one::<bool>(
                "SELECT EXISTS (SELECT FROM pg_catalog.pg_attribute
                                 WHERE attrelid OPERATOR(pg_catalog.=) pg_catalog.to_regclass($1)
                                   AND attname OPERATOR(pg_catalog.=) $2
                                   AND attnum OPERATOR(pg_catalog.>) 0 AND NOT attisdropped)",
                &[target_name.as_str().into(), needed.into()],
            )
            .unwrap_or(false);
            if !has {
                return Err(InsightError::undefined_column(
                    format!("target table {target_name} has no column {}", ident(needed)),
                    format!("score_table writes columns {} and {column}; drop the table or pick another name.", ident(key)),
                ));
            }
        }
        if mode == "replace" {
            Spi::run(&format!("DELETE FROM {target_name}")).expect("empty target");
        }
    } else {
        Spi::run(&format!(
            "CREATE TABLE {target_name} ({} {}, {column} {column_type})",
            ident(key),
            key_col.sql_type
        ))
        .expect("create target");
    }
    let insert = format!(
        "INSERT INTO {target_name} ({}, {column})
         SELECT k::{}, s FROM ROWS FROM (pg_catalog.unnest($1::pg_catalog.text[]),
                                         pg_catalog.unnest($2::{column_type}[])) AS u(k, s)",
        ident(key),
        key_col.sql_type
    );
    let progress = crate::gucs::PROGRESS.get();
    if matches!(model.estimator, crate::ml::model::Estimator::Mlp(_)) {
        crate::gucs::check_device()?; // networks run on insight.device; other models on the CPU
    }
    // networks go through candle on a GPU only: on the CPU the native kernel is faster
    // (benches/kernels.rs: 3.5 ms per 10k rows against candle's 5.1 ms)
    #[cfg(feature = "candle")]
    let candle_device = match &model.estimator {
        crate::ml::model::Estimator::Mlp(_)
            if crate::gucs::DEVICE.get() == crate::gucs::Device::Cuda =>
        {
            Some(
                crate::ml::algorithms::mlp::candle::device(
                    crate::ml::algorithms::mlp::candle::DeviceKind::Cuda,
                )
                .map_err(|e| {
                    InsightError::not_supported(
                        format!("insight.device: {e}"),
                        "SET insight.device = cpu",
                    )
                })?,
            )
        }
        _ => None,
    };
    let mut written = 0i64;
    let mut skipped = 0usize;
    let k = model.outputs();
    let mut x = vec![0.0; model.preprocessor.width];
    let spec = ReadSpec {
        relation: &relation,
        inputs: &inputs,
        target: Some((key, TargetRead::Text)),
        keys: false,
        text_budget: None,
        ordered: false,
    };
    reader::read_batches(&spec, BATCH_ROWS, &mut |frame| {
        skipped += frame.skipped_null_target;
        let Some(TargetColumn::Text(keys)) = frame.target else {
            unreachable!()
        };
        // the model's outputs, k per row
        #[allow(unused_mut)]
        let mut outputs: Option<Vec<f64>> = None;
        #[cfg(feature = "candle")]
        if let (crate::ml::model::Estimator::Mlp(net), Some(dev)) =
            (&model.estimator, &candle_device)
        {
            // the whole batch through candle: encode all rows, one forward pass
            let mut m = crate::ml::linalg::Matrix::zeros(frame.n_rows, model.preprocessor.width);
            for r in 0..frame.n_rows {
                model
                    .preprocessor
                    .encode_row(&frame.columns, r, m.row_mut(r))
                    .map_err(|e| bad_row(key, &keys[r], e))?;
            }
            outputs = Some(
                crate::ml::algorithms::mlp::candle::predict_batch(net, &m, dev).map_err(|e| {
                    InsightError::device(
                        format!("candle scoring failed: {e}"),
                        "SET insight.device = cpu",
                    )
                })?,
            );
        }
        let outputs = match outputs {
            Some(o) => o,
            None => {
                let mut all = vec![0.0; frame.n_rows * k];
                for (r, out) in all.chunks_mut(k).enumerate() {
                    model
                        .preprocessor
                        .encode_row(&frame.columns, r, &mut x)
                        .map_err(|e| bad_row(key, &keys[r], e))?;
                    model.predict_encoded(&x, out);
                }
                all
            }
        };
        for (r, o) in outputs.chunks(k).enumerate() {
            crate::api::predict::finite_outputs(model_ref, o).map_err(|e| {
                InsightError::data(
                    format!("the row with {} = {}: {}", ident(key), keys[r], e.message),
                    e.hint.unwrap_or_default(),
                )
            })?;
        }
        if !keys.is_empty() {
            let rows = outputs.chunks(k);
            match written_kind {
                Written::Score => {
                    let scores: Vec<f64> = rows
                        .map(|o| {
                            if model.task == Task::Multiclass {
                                o[argmax(o)]
                            } else {
                                model.predict_value(o)
                            }
                        })
                        .collect();
                    Spi::run_with_args(&insert, &[keys.into(), scores.into()])
                        .expect("insert scores");
                }
                Written::Class => {
                    let labels: Vec<String> = rows.map(|o| model.label(o).to_string()).collect();
                    Spi::run_with_args(&insert, &[keys.into(), labels.into()])
                        .expect("insert classes");
                }
                Written::Segment => {
                    let segments: Vec<i32> = rows.map(|o| o[0] as i32).collect();
                    Spi::run_with_args(&insert, &[keys.into(), segments.into()])
                        .expect("insert segments");
                }
            }
        }
        written += frame.n_rows as i64;
        if progress && frame.n_rows > 0 {
            let secs = started.elapsed().as_secs_f64();
            notice!(
                "score_table: {written} rows written, {:.0} rows/s",
                written as f64 / secs.max(1e-9)
            );
        }
        Ok(())
    })?;
    if skipped > 0 {
        notice!("{skipped} rows with a NULL {} were not scored", ident(key));
    }
    Ok(written)
}

fn bad_row(key: &str, value: &str, e: crate::ml::preprocess::PrepError) -> InsightError {
    InsightError::data(
        format!(
            "the row with {} = {value} cannot be scored: {e:?}",
            ident(key)
        ),
        "Fix or filter that row; NULLs are imputed, NaN and Infinity are not.",
    )
}

/// The target name, quoted part by part ("schema"."table"); a malformed name is an error.
fn quoted_target(target: &str) -> Result<String> {
    Spi::connect(|c| {
        c.select(
            "SELECT pg_catalog.array_to_string(ARRAY(SELECT pg_catalog.quote_ident(p)
                                                      FROM pg_catalog.unnest(pg_catalog.parse_ident($1)) p), '.')",
            Some(1),
            &[target.into()],
        )
        .ok()
        .and_then(|t| t.first().get_one::<String>().ok().flatten())
    })
    .filter(|s| !s.is_empty())
    .ok_or_else(|| {
        InsightError::invalid_parameter(
            format!("invalid target table name \"{target}\""),
            "Name a table as 'scores' or 'analytics.scores' (quote special characters as in SQL).",
        )
    })
}
