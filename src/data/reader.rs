//! Streams a relation through an SPI cursor into compact columns (numbers as f64 with NaN for
//! NULL, text dictionary-coded). Peak memory: 8 bytes per numeric cell, 4 per text cell, plus
//! the distinct strings, plus one fetched batch (FETCH_ROWS rows, with their detoasted texts).

use crate::error::{ident, InsightError, Result};
use crate::ml::preprocess::{RawColumn, ValueKind, NULL_CODE};
use pgrx::prelude::*;
use pgrx::PgMemoryContexts;
use std::collections::HashMap;

const FETCH_ROWS: i64 = 10_000;

/// What to read: input columns (name, kind) and optionally a target read as text or float8.
pub struct ReadSpec<'a> {
    pub relation: &'a str,
    pub inputs: &'a [(String, ValueKind)],
    pub target: Option<(&'a str, TargetRead)>,
    /// Text inputs of any type read with the type's output function (`format('%s', c)`) instead
    /// of a cast to text: a key then reads as a scorer that is handed the same value sees it
    /// (a cast strips char(n)'s padding and spells booleans out; the output function does not).
    pub keys: bool,
    /// The most bytes the distinct text values (and class labels) read may take, or None: past it
    /// the read stops with 53200 (training's share of insight.max_train_memory).
    pub text_budget: Option<u64>,
    /// Rows in a fixed order (by every value read) where the relation is a Citus table, whose rows
    /// otherwise arrive shard by shard in whichever order the workers answer: training's seeded
    /// split and samples depend on row order, and the same table and seed must give the same
    /// model. Costs a sort on the coordinator; elsewhere the relation is read in its own order.
    pub ordered: bool,
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
    Text {
        dict: Vec<String>,
        index: HashMap<String, u32>,
        codes: Vec<u32>,
    },
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
            ValueKind::Text => Builder::Text {
                dict: Vec::new(),
                index: HashMap::new(),
                codes: Vec::new(),
            },
            _ => Builder::Number(Vec::new()),
        })
        .collect()
}

fn finish_frame(
    spec: &ReadSpec,
    builders: Vec<Builder>,
    target_text: Vec<String>,
    target_num: Vec<f64>,
    skipped: usize,
) -> Frame {
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
    Frame {
        columns,
        target,
        n_rows,
        skipped_null_target: skipped,
    }
}

/// Calls `f` with the values and NULL flags of each row of the tuple table SPI just fetched.
/// One `heap_deform_tuple` per row: pgrx's typed per-cell getters (a type check, a Vec and an
/// error trap per cell) took three quarters of score_table's time.
unsafe fn for_each_fetched_row(
    n_cols: usize,
    mut f: impl FnMut(&[pg_sys::Datum], &[bool]) -> Result<()>,
) -> Result<()> {
    let table = pg_sys::SPI_tuptable;
    if table.is_null() {
        return Ok(());
    }
    let tupdesc = (*table).tupdesc;
    assert_eq!(
        (*tupdesc).natts as usize,
        n_cols,
        "the cursor returns the columns asked for"
    );
    let mut values = vec![pg_sys::Datum::from(0usize); n_cols];
    let mut nulls = vec![false; n_cols];
    for i in 0..(*table).numvals as usize {
        let tuple = *(*table).vals.add(i);
        pg_sys::heap_deform_tuple(tuple, tupdesc, values.as_mut_ptr(), nulls.as_mut_ptr());
        f(&values, &nulls)?;
    }
    Ok(())
}

/// A float8 Datum (passed by value on every 64-bit platform PostgreSQL 15 supports).
#[inline]
fn float8_datum(d: pg_sys::Datum) -> f64 {
    f64::from_bits(d.value() as u64)
}

/// A text Datum of column `column` as &str (valid while the fetched tuple table lives).
#[inline]
unsafe fn text_datum<'a>(d: pg_sys::Datum, column: &str) -> Result<&'a str> {
    let p = pg_sys::pg_detoast_datum_packed(d.cast_mut_ptr());
    pgrx::varlena::text_to_rust_str(p).map_err(|_| {
        InsightError::data(
            format!(
                "column {} holds text that is not valid UTF-8",
                ident(column)
            ),
            "pg_insight reads text in UTF-8: use a database with ENCODING 'UTF8'.",
        )
    })
}

/// Streams the relation, handing over a frame whenever at least `max_rows` rows are buffered
/// (and one last frame, possibly empty, at the end): memory stays bounded by `max_rows`.
pub fn read_batches(
    spec: &ReadSpec,
    max_rows: usize,
    on_frame: &mut dyn FnMut(Frame) -> Result<()>,
) -> Result<()> {
    let mut select: Vec<String> = spec
        .inputs
        .iter()
        .map(|(n, k)| match k {
            // format() writes NULL as an empty string: NULL stays NULL
            ValueKind::Text if spec.keys => format!(
                "CASE WHEN {q} IS NULL THEN NULL ELSE pg_catalog.format('%s', {q}) END",
                q = ident(n)
            ),
            _ => crate::data::columns::read_expression(n, *k),
        })
        .collect();
    if let Some((t, how)) = spec.target {
        select.push(match how {
            TargetRead::Text => format!("{}::pg_catalog.text", ident(t)),
            TargetRead::Number => format!("{}::pg_catalog.float8", ident(t)),
        });
    }
    if select.is_empty() {
        select.push("1".into());
    }
    let mut query = format!("SELECT {} FROM {}", select.join(", "), spec.relation);
    if spec.ordered && crate::store::citus::is_citus_relation(spec.relation) {
        // text in byte order: a collation may call different strings equal, and their order
        // would then be the shards'
        let mut text = spec
            .inputs
            .iter()
            .map(|(_, k)| *k == ValueKind::Text)
            .collect::<Vec<bool>>();
        if let Some((_, how)) = spec.target {
            text.push(how == TargetRead::Text);
        }
        let keys: Vec<String> = select
            .iter()
            .zip(text.iter().chain(std::iter::repeat(&false)))
            .enumerate()
            .map(|(i, (e, t))| {
                if *t {
                    format!("({e}) COLLATE \"C\"")
                } else {
                    (i + 1).to_string()
                }
            })
            .collect();
        query.push_str(&format!(" ORDER BY {}", keys.join(", ")));
    }
    let mut builders: Vec<Builder> = empty_builders(spec);
    let mut target_text: Vec<String> = Vec::new();
    let mut target_num: Vec<f64> = Vec::new();
    let mut skipped = 0usize;
    let mut text_bytes = 0u64;
    let n_in = spec.inputs.len();

    // Detoasted copies of long text values are made in this context and freed with each batch;
    // in SPI's context they stayed until the end of the read.
    let mut batch_memory = PgMemoryContexts::new("pg_insight reader batch");
    Spi::connect(|client| -> Result<()> {
        let mut cursor = client.open_cursor(query.as_str(), &[]);
        loop {
            pgrx::check_for_interrupts!();
            // the rows are read from SPI_tuptable below, one deform per row
            if cursor.fetch(FETCH_ROWS).expect("cursor fetch").is_empty() {
                break;
            }
            // SAFETY: SPI_tuptable is the table the fetch above just filled (the query's columns:
            // float8 for numbers, text for text, in `select` order)
            unsafe {
                batch_memory.switch_to(|_| for_each_fetched_row(select.len(), |values, nulls| {
                    if let Some((tname, how)) = spec.target {
                        let (d, null) = (values[n_in], nulls[n_in]);
                        match how {
                            TargetRead::Text if null => {
                                skipped += 1;
                                return Ok(());
                            }
                            TargetRead::Text => {
                                let label = text_datum(d, tname)?;
                                text_bytes += label.len() as u64 + 24;
                                target_text.push(label.to_string())
                            }
                            TargetRead::Number if null => {
                                skipped += 1;
                                return Ok(());
                            }
                            TargetRead::Number => {
                                let v = float8_datum(d);
                                if !v.is_finite() {
                                    return Err(InsightError::data(
                                        format!("target column {} contains NaN or Infinity", ident(tname)),
                                        "Filter those rows out, e.g. train on a view with WHERE target <> 'NaN'.",
                                    ));
                                }
                                target_num.push(v);
                            }
                        }
                    }
                    for (j, b) in builders.iter_mut().enumerate() {
                        match b {
                            Builder::Number(v) if nulls[j] => v.push(f64::NAN),
                            Builder::Number(v) => {
                                let x = float8_datum(values[j]);
                                if !x.is_finite() {
                                    return Err(InsightError::data(
                                        format!(
                                            "column {} contains {}",
                                            ident(&spec.inputs[j].0),
                                            if x.is_nan() { "NaN" } else { "Infinity" }
                                        ),
                                        "Models need finite numbers: replace NaN/Infinity with NULL (it is imputed) or filter those rows out.",
                                    ));
                                }
                                v.push(x);
                            }
                            Builder::Text { codes, .. } if nulls[j] => codes.push(NULL_CODE),
                            Builder::Text { dict, index, codes } => {
                                let s = text_datum(values[j], &spec.inputs[j].0)?;
                                let code = match index.get(s) {
                                    Some(&c) => c,
                                    None => {
                                        let c = dict.len() as u32;
                                        // kept twice (the dictionary and its index) plus overhead
                                        text_bytes += 2 * s.len() as u64 + 64;
                                        dict.push(s.to_string());
                                        index.insert(s.to_string(), c);
                                        c
                                    }
                                };
                                codes.push(code);
                            }
                        }
                    }
                    Ok(())
                }))?;
                batch_memory.reset();
                if let Some(budget) = spec.text_budget.filter(|&b| text_bytes > b) {
                    return Err(InsightError::out_of_memory(
                        format!(
                            "the text values read from {} take more than {} MB, above insight.max_train_memory",
                            spec.relation,
                            budget >> 20
                        ),
                        "Train on fewer or shorter text values (a view with left(review, 2000), a sample), or have a superuser raise insight.max_train_memory.",
                    ));
                }
                // pgrx never frees a fetched table: without this every batch stayed in memory
                // until the end of the read
                pg_sys::SPI_freetuptable(pg_sys::SPI_tuptable);
                pg_sys::SPI_tuptable = std::ptr::null_mut();
            }
            let buffered = if spec.target.is_some() {
                target_text.len() + target_num.len()
            } else {
                builders.first().map_or(0, |b| match b {
                    Builder::Number(v) => v.len(),
                    Builder::Text { codes, .. } => codes.len(),
                })
            };
            if buffered >= max_rows {
                let full = std::mem::replace(&mut builders, empty_builders(spec));
                let frame = finish_frame(
                    spec,
                    full,
                    std::mem::take(&mut target_text),
                    std::mem::take(&mut target_num),
                    skipped,
                );
                skipped = 0;
                on_frame(frame)?;
            }
        }
        Ok(())
    })?;
    on_frame(finish_frame(
        spec,
        builders,
        target_text,
        target_num,
        skipped,
    ))
}

#[cfg(any(test, feature = "pg_test"))]
#[pg_schema]
mod tests {
    use super::*;

    /// Bytes allocated in every PostgreSQL memory context of this backend.
    fn palloc_bytes() -> usize {
        unsafe { pg_sys::MemoryContextMemAllocated(pg_sys::TopMemoryContext, true) }
    }

    #[pg_test]
    fn detoasted_texts_are_freed_with_each_batch() {
        // 4 kB texts stored out of line and uncompressed: reading one makes a 4 kB copy
        Spi::run(
            "CREATE TABLE long_texts (t text);
             ALTER TABLE long_texts ALTER COLUMN t SET STORAGE EXTERNAL;
             INSERT INTO long_texts SELECT repeat(md5(i::text), 128) FROM generate_series(1, 3 * 10000) i;",
        )
        .unwrap();
        let inputs = vec![("t".to_string(), ValueKind::Text)];
        let spec = ReadSpec {
            relation: "public.long_texts",
            inputs: &inputs,
            target: None,
            keys: false,
            text_budget: None,
            ordered: false,
        };
        let mut at_frame = Vec::new();
        read_batches(&spec, FETCH_ROWS as usize, &mut |f| {
            at_frame.push((f.n_rows, palloc_bytes()));
            Ok(())
        })
        .unwrap();
        assert_eq!(at_frame.iter().map(|(n, _)| n).sum::<usize>(), 30_000);
        // each batch detoasts 40 MB; what stays allocated must not grow with the batches read
        let (first, last) = (at_frame[0].1, at_frame[2].1);
        assert!(
            last < first + 4_000_000,
            "memory grew from {first} to {last} bytes over two batches"
        );
    }
}
