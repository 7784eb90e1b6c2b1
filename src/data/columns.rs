//! The columns of a relation and what kind of model input each can be.

use crate::error::{ident, InsightError, Result};
use crate::ml::preprocess::ValueKind;
use crate::ml::privacy::{identity_of, Identity};
use pgrx::prelude::*;

#[derive(Clone, Debug)]
pub struct ColumnInfo {
    pub name: String,
    /// As format_type prints it, e.g. `numeric(10,2)`.
    pub sql_type: String,
    /// None: a type no model can use (json, arrays, ...).
    pub kind: Option<ValueKind>,
    /// smallint, integer or bigint (or a domain over one)
    pub is_integer: bool,
    pub is_primary_key: bool,
}

/// All live columns of `relid` in attribute order; domains are classified by their base type.
pub fn relation_columns(relid: pg_sys::Oid) -> Vec<ColumnInfo> {
    const QUERY: &str = r#"
        SELECT a.attname::pg_catalog.text,
               pg_catalog.format_type(a.atttypid, a.atttypmod),
               CASE WHEN b.oid OPERATOR(pg_catalog.=) ANY ('{pg_catalog.int2,pg_catalog.int4,pg_catalog.int8,pg_catalog.float4,pg_catalog.float8,pg_catalog.numeric}'::pg_catalog.regtype[])
                         THEN 'number'
                    WHEN b.oid OPERATOR(pg_catalog.=) 'pg_catalog.bool'::pg_catalog.regtype THEN 'boolean'
                    WHEN b.oid OPERATOR(pg_catalog.=) 'pg_catalog.date'::pg_catalog.regtype THEN 'date'
                    WHEN b.oid OPERATOR(pg_catalog.=) ANY ('{pg_catalog.timestamp,pg_catalog.timestamptz}'::pg_catalog.regtype[]) THEN 'timestamp'
                    WHEN b.oid OPERATOR(pg_catalog.=) ANY ('{pg_catalog.text,pg_catalog.varchar,pg_catalog.bpchar,pg_catalog.name}'::pg_catalog.regtype[])
                         OR b.typtype OPERATOR(pg_catalog.=) 'e' THEN 'text'
               END,
               coalesce(a.attnum OPERATOR(pg_catalog.=) ANY (i.indkey::pg_catalog.int2[]), false),
               b.oid OPERATOR(pg_catalog.=) ANY ('{pg_catalog.int2,pg_catalog.int4,pg_catalog.int8}'::pg_catalog.regtype[])
          FROM pg_catalog.pg_attribute a
          JOIN pg_catalog.pg_type t ON t.oid OPERATOR(pg_catalog.=) a.atttypid
          JOIN pg_catalog.pg_type b ON b.oid OPERATOR(pg_catalog.=)
               CASE WHEN t.typtype OPERATOR(pg_catalog.=) 'd' THEN t.typbasetype ELSE t.oid END
          LEFT JOIN pg_catalog.pg_index i ON i.indrelid OPERATOR(pg_catalog.=) a.attrelid AND i.indisprimary
         WHERE a.attrelid OPERATOR(pg_catalog.=) $1 AND a.attnum OPERATOR(pg_catalog.>) 0 AND NOT a.attisdropped
         ORDER BY a.attnum"#;
    Spi::connect(|client| {
        let rows = client
            .select(QUERY, None, &[relid.into()])
            .expect("catalog query");
        rows.map(|r| {
            let kind = match r.get::<String>(3).ok().flatten().as_deref() {
                Some("number") => Some(ValueKind::Number),
                Some("boolean") => Some(ValueKind::Boolean),
                Some("date") => Some(ValueKind::Date),
                Some("timestamp") => Some(ValueKind::Timestamp),
                Some("text") => Some(ValueKind::Text),
                _ => None,
            };
            ColumnInfo {
                name: r.get::<String>(1).ok().flatten().unwrap_or_default(),
                sql_type: r.get::<String>(2).ok().flatten().unwrap_or_default(),
                kind,
                is_primary_key: r.get::<bool>(4).ok().flatten().unwrap_or(false),
                is_integer: r.get::<bool>(5).ok().flatten().unwrap_or(false),
            }
        })
        .collect()
    })
}

/// The relation's name as SQL text, schema-qualified and quoted: it means the same relation
/// whatever the search_path (in a message, in SQL run now, or when a retrain runs it later).
pub fn relation_name(relid: pg_sys::Oid) -> String {
    crate::spi::select_one::<String>(
        "SELECT pg_catalog.quote_ident(n.nspname) OPERATOR(pg_catalog.||) '.' OPERATOR(pg_catalog.||)
                pg_catalog.quote_ident(c.relname)
           FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace
          WHERE c.oid OPERATOR(pg_catalog.=) $1",
        &[relid.into()],
    )
    .unwrap_or_else(|| catalog_cache_name(relid).unwrap_or_else(|| relid.to_u32().to_string()))
}

/// The name from the catalog caches, which see the catalog as it is now (a table created after
/// a REPEATABLE READ transaction's snapshot, which the SQL above cannot see).
fn catalog_cache_name(relid: pg_sys::Oid) -> Option<String> {
    // SAFETY: syscache lookups by OID; each returns NULL or a palloc'd C string
    unsafe {
        let rel = pg_sys::get_rel_name(relid);
        let nsp = pg_sys::get_namespace_name(pg_sys::get_rel_namespace(relid));
        if rel.is_null() || nsp.is_null() {
            return None;
        }
        let quote = |s: *mut std::ffi::c_char| {
            std::ffi::CStr::from_ptr(pg_sys::quote_identifier(s))
                .to_string_lossy()
                .into_owned()
        };
        Some(format!("{}.{}", quote(nsp), quote(rel)))
    }
}

/// Looks a column up by exact name, with a hint listing what exists.
pub fn find<'a>(
    cols: &'a [ColumnInfo],
    name: &str,
    relation: &str,
    what: &str,
) -> Result<&'a ColumnInfo> {
    cols.iter().find(|c| c.name == name).ok_or_else(|| {
        if cols.is_empty() {
            // the regclass check reads the catalog as it is now; the columns are read under the
            // transaction's snapshot, which under REPEATABLE READ predates a newer table
            return InsightError::undefined_table(
                format!("relation {relation} has no columns this transaction can see: it was created after the transaction's snapshot, or has no columns"),
                "Run the call in a new transaction (under REPEATABLE READ or SERIALIZABLE a transaction sees the catalog as it began).",
            );
        }
        let names: Vec<String> = cols.iter().map(|c| ident(&c.name)).collect();
        InsightError::undefined_column(
            format!(
                "{what} column {} does not exist in relation {relation}",
                ident(name)
            ),
            format!("Columns of {relation}: {}.", names.join(", ")),
        )
    })
}

/// The SQL expression that reads a column of this kind as float8 or text (every type and
/// operator schema-qualified, see crate::spi).
pub fn read_expression(name: &str, kind: ValueKind) -> String {
    let q = ident(name);
    match kind {
        ValueKind::Number => format!("{q}::pg_catalog.float8"),
        ValueKind::Boolean => format!("{q}::pg_catalog.int4::pg_catalog.float8"),
        ValueKind::Date => {
            format!("({q} OPERATOR(pg_catalog.-) '1970-01-01'::pg_catalog.date)::pg_catalog.float8")
        }
        ValueKind::Timestamp => {
            format!("(extract(epoch FROM {q}) OPERATOR(pg_catalog./) 86400.0::pg_catalog.numeric)::pg_catalog.float8")
        }
        ValueKind::Text => format!("{q}::pg_catalog.text"),
    }
}

pub fn kind_name(kind: ValueKind) -> &'static str {
    match kind {
        ValueKind::Number => "number",
        ValueKind::Boolean => "boolean",
        ValueKind::Date => "date",
        ValueKind::Timestamp => "timestamp",
        ValueKind::Text => "text",
    }
}

/// Whether a target holds labels (classification) or a quantity (regression), and why, in words
/// for the NOTICE that says what train inferred.
pub struct TargetKind {
    pub labels: bool,
    pub why: String,
}

/// Boolean, text and enum targets are labels; so are integers with at most 20 distinct values
/// (0/1, ratings) and other numbers with at most two (0/1 stored as float8 or numeric). Other
/// numbers are quantities.
pub fn target_kind(t: &ColumnInfo, relation: &str) -> TargetKind {
    let distinct = || {
        let q = format!(
            "SELECT pg_catalog.count(*) FROM (SELECT DISTINCT {} FROM {relation} LIMIT 21) d",
            ident(&t.name)
        );
        Spi::get_one::<i64>(&q).ok().flatten().unwrap_or(0)
    };
    let (labels, why) = match t.kind {
        Some(ValueKind::Boolean) | Some(ValueKind::Text) => (true, format!("it is {}", t.sql_type)),
        Some(ValueKind::Number) if t.is_integer => match distinct() {
            n if n <= 20 => (true, format!("it holds {n} distinct integers")),
            _ => (false, "it holds more than 20 distinct integers".to_string()),
        },
        Some(ValueKind::Number) => match distinct() {
            n if n <= 2 => (true, format!("it holds only {n} distinct values")),
            _ => (
                false,
                format!("it is a {} with more than two distinct values", t.sql_type),
            ),
        },
        _ => (false, format!("it is {}", t.sql_type)),
    };
    TargetKind { labels, why }
}

/// Integer and text columns that look like keys: unique in every row of the first 10,000, or
/// named `id` / `*_id` with more than half of those rows distinct. Keys identify rows; as
/// features they let a model memorise the training rows instead of learning. Below 100 rows
/// uniqueness says nothing, and nothing is left out.
fn key_like(candidates: &[&ColumnInfo], relation: &str) -> Vec<String> {
    // PostgreSQL allows 1664 entries in a select list: two per column, in chunks well below that
    candidates
        .chunks(500)
        .flat_map(|chunk| key_like_chunk(chunk, relation))
        .collect()
}

fn key_like_chunk(candidates: &[&ColumnInfo], relation: &str) -> Vec<String> {
    if candidates.is_empty() {
        return Vec::new();
    }
    let counts: Vec<String> = candidates
        .iter()
        .map(|c| {
            format!(
                "pg_catalog.count({0}), pg_catalog.count(DISTINCT {0})",
                ident(&c.name)
            )
        })
        .collect();
    let cols: Vec<String> = candidates.iter().map(|c| ident(&c.name)).collect();
    let q = format!(
        "SELECT pg_catalog.count(*), {} FROM (SELECT {} FROM {relation} LIMIT 10000) s",
        counts.join(", "),
        cols.join(", ")
    );
    let row: Vec<i64> = Spi::connect(|c| {
        c.select(&q, Some(1), &[])
            .ok()
            .and_then(|t| {
                let r = t.first();
                (1..=1 + 2 * candidates.len())
                    .map(|i| r.get::<i64>(i).ok().flatten())
                    .collect::<Option<Vec<i64>>>()
            })
            .unwrap_or_default()
    });
    if row.len() != 1 + 2 * candidates.len() || row[0] < 100 {
        return Vec::new();
    }
    let rows = row[0];
    candidates
        .iter()
        .enumerate()
        .filter(|(i, c)| {
            let (non_null, distinct) = (row[1 + 2 * i], row[2 + 2 * i]);
            let lower = c.name.to_lowercase();
            let named = lower == "id" || lower.ends_with("_id");
            (non_null == rows && distinct == rows) || (named && distinct * 2 > rows)
        })
        .map(|(_, c)| c.name.clone())
        .collect()
}

/// Up to 10,000 non-NULL values of each of the text columns `names` (the relation's first rows),
/// read as text: what `identities` looks at.
fn text_samples(names: &[&str], relation: &str) -> Vec<Vec<String>> {
    let mut out: Vec<Vec<String>> = vec![Vec::new(); names.len()];
    for (chunk_no, chunk) in names.chunks(500).enumerate() {
        let cols: Vec<String> = chunk.iter().map(|n| ident(n)).collect();
        // as UTF-8 bytes: in a database of another encoding a value read as text would not be
        // valid UTF-8 (the reader reports that later, as an error that names the column)
        let cast: Vec<String> = cols
            .iter()
            // the first 300 characters tell the look; whole values could be megabytes each
            .map(|c| {
                format!("pg_catalog.convert_to(pg_catalog.left({c}::pg_catalog.text, 300), 'UTF8')")
            })
            .collect();
        let q = format!(
            "SELECT {} FROM (SELECT {} FROM {relation} LIMIT 10000) s",
            cast.join(", "),
            cols.join(", ")
        );
        Spi::connect(|c| {
            if let Ok(table) = c.select(&q, None, &[]) {
                for row in table {
                    for i in 0..chunk.len() {
                        if let Ok(Some(v)) = row.get::<Vec<u8>>(i + 1) {
                            out[chunk_no * 500 + i].push(String::from_utf8_lossy(&v).into_owned());
                        }
                    }
                }
            }
        });
    }
    out
}

/// The text columns among `candidates` whose values identify people (ml::privacy), with what
/// they look like.
fn identities(candidates: &[&ColumnInfo], relation: &str) -> Vec<(String, Identity)> {
    let text: Vec<&str> = candidates
        .iter()
        .filter(|c| c.kind == Some(ValueKind::Text))
        .map(|c| c.name.as_str())
        .collect();
    if text.is_empty() {
        return Vec::new();
    }
    text.iter()
        .zip(text_samples(&text, relation))
        .filter_map(|(name, values)| {
            identity_of(values.iter().map(String::as_str)).map(|i| (name.to_string(), i))
        })
        .collect()
}

/// The feature columns: those listed, or every usable column but the target, `exclude`,
/// primary-key columns, columns that look like keys and text columns that look like personal
/// identities (a NOTICE names what was left out; a listed column that looks like identities is
/// used, with a WARNING).
pub fn choose_features(
    cols: &[ColumnInfo],
    requested: Option<&[String]>,
    exclude: Option<&[String]>,
    target: Option<&ColumnInfo>,
    relation: &str,
    free_text: &[String],
) -> Result<Vec<ColumnInfo>> {
    let is_target = |name: &str| target.is_some_and(|t| t.name == name);
    let unusable = |c: &ColumnInfo| {
        InsightError::datatype_mismatch(
            format!("feature column {} has type {}, which models cannot use", ident(&c.name), c.sql_type),
            "Use numeric, boolean, date, timestamp, text or enum columns; cast others in a view, or leave this one out.",
        )
    };
    let mut out = Vec::new();
    match requested {
        Some(list) => {
            if list.is_empty() {
                return Err(InsightError::invalid_parameter(
                    "features must not be an empty array",
                    "Pass NULL to use every column but the target, or list the columns to use.",
                ));
            }
            if let Some(both) = exclude.unwrap_or(&[]).iter().find(|e| list.contains(e)) {
                return Err(InsightError::invalid_parameter(
                    format!("column {} is both in features and in exclude", ident(both)),
                    "With features listed, exclude is not needed: remove the column from one of them.",
                ));
            }
            for f in list {
                let c = find(cols, f, relation, "feature")?;
                if is_target(&c.name) {
                    return Err(InsightError::invalid_parameter(
                        format!(
                            "column {} is the target and cannot also be a feature",
                            ident(f)
                        ),
                        "Remove it from features.",
                    ));
                }
                if c.kind.is_none() {
                    return Err(unusable(c));
                }
                if !out.iter().any(|o: &ColumnInfo| o.name == c.name) {
                    out.push(c.clone());
                }
            }
            let listed: Vec<&ColumnInfo> = out
                .iter()
                .filter(|c| !free_text.contains(&c.name))
                .collect();
            for (name, identity) in identities(&listed, relation) {
                warning!(
                    "feature column {} looks like {}: the model will store some of its values (its most frequent categories, or its text model's n-grams) in insight.models",
                    ident(&name),
                    identity.describe()
                );
            }
        }
        None => {
            let exclude = exclude.unwrap_or(&[]);
            for e in exclude {
                find(cols, e, relation, "excluded")?;
            }
            let mut skipped = Vec::new();
            let mut usable = Vec::new();
            for c in cols {
                if is_target(&c.name) || exclude.contains(&c.name) {
                    continue;
                }
                if c.is_primary_key {
                    skipped.push(format!("{} (primary key)", ident(&c.name)));
                } else if c.kind.is_none() {
                    skipped.push(format!("{} ({})", ident(&c.name), c.sql_type));
                } else {
                    usable.push(c);
                }
            }
            // (columns options.text names as free text are reviews, not keys or identities)
            let candidates: Vec<&ColumnInfo> = usable
                .iter()
                .copied()
                .filter(|c| c.is_integer || c.kind == Some(ValueKind::Text))
                .filter(|c| !free_text.contains(&c.name))
                .collect();
            let keys = key_like(&candidates, relation);
            let not_keys: Vec<&ColumnInfo> = candidates
                .iter()
                .copied()
                .filter(|c| !keys.contains(&c.name))
                .collect();
            let people = identities(&not_keys, relation);
            for c in usable {
                if keys.contains(&c.name) {
                    skipped.push(format!("{} (looks like a key)", ident(&c.name)));
                } else if let Some((_, i)) = people.iter().find(|(n, _)| *n == c.name) {
                    skipped.push(format!(
                        "{} (looks like {}: personal data stays out of models unless listed in features)",
                        ident(&c.name),
                        i.describe()
                    ));
                } else {
                    out.push(c.clone());
                }
            }
            if !skipped.is_empty() {
                notice!(
                    "not used as features: {}; list features => ARRAY[...] to choose",
                    skipped.join(", ")
                );
            }
        }
    }
    if out.is_empty() {
        return Err(InsightError::invalid_parameter(
            format!("relation {relation} has no usable feature columns"),
            "Name feature columns with features => ARRAY['col', ...].",
        ));
    }
    Ok(out)
}
