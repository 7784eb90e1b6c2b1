//! The columns of a relation and what kind of model input each can be.

use crate::error::{ident, InsightError, Result};
use crate::ml::preprocess::ValueKind;
use pgrx::prelude::*;

#[derive(Clone, Debug)]
pub struct ColumnInfo {
    pub name: String,
    /// As format_type prints it, e.g. `numeric(10,2)`.
    pub sql_type: String,
    /// None: a type no model can use (json, arrays, ...).
    pub kind: Option<ValueKind>,
    pub is_primary_key: bool,
}

/// All live columns of `relid` in attribute order; domains are classified by their base type.
pub fn relation_columns(relid: pg_sys::Oid) -> Vec<ColumnInfo> {
    const QUERY: &str = r#"
        SELECT a.attname::text,
               format_type(a.atttypid, a.atttypmod),
               CASE WHEN b.oid IN ('int2'::regtype, 'int4'::regtype, 'int8'::regtype, 'float4'::regtype,
                                   'float8'::regtype, 'numeric'::regtype) THEN 'number'
                    WHEN b.oid = 'bool'::regtype THEN 'boolean'
                    WHEN b.oid = 'date'::regtype THEN 'date'
                    WHEN b.oid IN ('timestamp'::regtype, 'timestamptz'::regtype) THEN 'timestamp'
                    WHEN b.oid IN ('text'::regtype, 'varchar'::regtype, 'bpchar'::regtype, 'name'::regtype)
                         OR b.typtype = 'e' THEN 'text'
               END,
               coalesce(a.attnum = ANY (i.indkey::int2[]), false)
          FROM pg_attribute a
          JOIN pg_type t ON t.oid = a.atttypid
          JOIN pg_type b ON b.oid = CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE t.oid END
          LEFT JOIN pg_index i ON i.indrelid = a.attrelid AND i.indisprimary
         WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped
         ORDER BY a.attnum"#;
    Spi::connect(|client| {
        let rows = client.select(QUERY, None, &[relid.into()]).expect("catalog query");
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
            }
        })
        .collect()
    })
}

/// The relation's name as SQL text, quoted and schema-qualified where needed.
pub fn relation_name(relid: pg_sys::Oid) -> String {
    crate::store::catalog::select_one::<String>("SELECT $1::regclass::text", &[relid.into()])
        .unwrap_or_else(|| relid.to_u32().to_string())
}

/// Looks a column up by exact name, with a hint listing what exists.
pub fn find<'a>(cols: &'a [ColumnInfo], name: &str, relation: &str, what: &str) -> Result<&'a ColumnInfo> {
    cols.iter().find(|c| c.name == name).ok_or_else(|| {
        let names: Vec<String> = cols.iter().map(|c| ident(&c.name)).collect();
        InsightError::undefined_column(
            format!("{what} column {} does not exist in relation {relation}", ident(name)),
            format!("Columns of {relation}: {}.", names.join(", ")),
        )
    })
}

/// The SQL expression that reads a column of this kind as float8 or text.
pub fn read_expression(name: &str, kind: ValueKind) -> String {
    let q = ident(name);
    match kind {
        ValueKind::Number => format!("{q}::float8"),
        ValueKind::Boolean => format!("{q}::int::float8"),
        ValueKind::Date => format!("({q} - DATE '1970-01-01')::float8"),
        ValueKind::Timestamp => format!("(extract(epoch FROM {q}) / 86400.0)::float8"),
        ValueKind::Text => format!("{q}::text"),
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
