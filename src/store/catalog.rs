//! Model rows in insight.models and deployments in insight.deployments.

//! Every statement names its schema's objects in full (see crate::spi).

use crate::error::{InsightError, Result};
use crate::spi::select_one;
use crate::store::citus::CatalogTables;
use pgrx::prelude::*;
use pgrx::JsonB;
use pgrx::PgSqlErrorCode;

/// A parsed model reference: `'name'` (the deployed version) or `'name@3'`.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelRef<'a> {
    pub name: &'a str,
    pub version: Option<i32>,
}

pub fn parse_ref(s: &str) -> Result<ModelRef<'_>> {
    let bad = || {
        InsightError::invalid_parameter(
            format!("invalid model reference \"{s}\""),
            "Name a model as 'name' (its deployed version) or 'name@3' (version 3).",
        )
    };
    match s.rsplit_once('@') {
        Some((name, v)) => {
            // digits only: i32's parser also takes a sign ('m@+1')
            if !v.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad());
            }
            let version: i32 = v.parse().map_err(|_| bad())?;
            if name.is_empty() || version < 1 {
                return Err(bad());
            }
            Ok(ModelRef {
                name,
                version: Some(version),
            })
        }
        None if s.is_empty() => Err(bad()),
        None => Ok(ModelRef {
            name: s,
            version: None,
        }),
    }
}

/// Checks a name given to train/deploy.
pub fn validate_name(name: &str) -> Result<()> {
    if name.trim().is_empty() {
        return Err(InsightError::invalid_parameter(
            "model name must not be empty",
            "Pass a name such as 'purchase_propensity'.",
        ));
    }
    if name.contains('@') {
        return Err(InsightError::invalid_parameter(
            format!("model name \"{name}\" must not contain '@'"),
            "'@' separates a name from a version, as in 'purchase_propensity@2'.",
        ));
    }
    if name.len() > 200 {
        return Err(InsightError::invalid_parameter(
            "model name is longer than 200 bytes",
            "Use a shorter name.",
        ));
    }
    Ok(())
}

/// One stored version of a model: its row id and the transaction and command that wrote the row
/// version. Decoded models are cached by all three, so a row replaced under the same id
/// (TRUNCATE ... RESTART IDENTITY, a restore, an UPDATE by hand, even within the transaction that
/// wrote the first one) is decoded anew.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StoredModel {
    pub id: i64,
    pub xmin: i64,
    pub cmin: i64,
}

/// One model row's StoredModel, from a query returning `ARRAY[id, xmin, cmin]` (ID_AND_VERSION).
fn stored(query: &str, args: &[pgrx::datum::DatumWithOid<'_>]) -> Option<StoredModel> {
    let v = select_one::<Vec<i64>>(query, args)?;
    Some(StoredModel {
        id: *v.first()?,
        xmin: *v.get(1)?,
        cmin: *v.get(2)?,
    })
}

const ID_AND_VERSION: &str = "ARRAY[m.id, m.xmin::pg_catalog.text::pg_catalog.int8, m.cmin::pg_catalog.text::pg_catalog.int8]";

/// Checks, before any work, that this session may write `tables` (insight.models to store a
/// version, insight.deployments to deploy one): INSERT on each, and not a read-only transaction.
pub fn check_can_write(tables: &[&str]) -> Result<()> {
    crate::store::citus::prepare_catalog_write()?;
    if select_one::<bool>(
        "SELECT pg_catalog.current_setting('transaction_read_only')::pg_catalog.bool",
        &[],
    ) == Some(true)
    {
        return Err(InsightError::read_only(
            "cannot store a model in a read-only transaction",
            "Train on the primary, outside SET TRANSACTION READ ONLY.",
        ));
    }
    for t in tables {
        let ok = select_one::<bool>(
            // a column-level grant of INSERT serves as well as a table-level one
            "SELECT pg_catalog.has_any_column_privilege($1::pg_catalog.text, 'INSERT')",
            &[(*t).into()],
        );
        if ok != Some(true) {
            return Err(InsightError::insufficient_privilege(
                format!(
                    "permission denied to write {t}: storing {} needs INSERT on it",
                    match *t {
                        "insight.models" => "a model",
                        "insight.deployments" => "a deployment",
                        "insight.evaluations" => "an evaluation",
                        _ => "a drift record",
                    }
                ),
                format!(
                    "A superuser or the extension's owner can run: GRANT INSERT ON {} TO {};",
                    tables.join(", "),
                    select_one::<String>("SELECT pg_catalog.quote_ident(current_user)", &[])
                        .unwrap_or_default()
                ),
            ));
        }
    }
    Ok(())
}

/// Resolves a reference to a stored model version.
pub fn resolve(r: &ModelRef) -> Result<StoredModel> {
    crate::store::citus::catalog_read(|t| {
        if t.as_owner {
            as_catalog_owner(|| resolve_in(t, r))
        } else {
            resolve_in(t, r)
        }
    })
}

fn resolve_in(t: &CatalogTables, r: &ModelRef) -> Result<StoredModel> {
    let (models, deployments) = (&t.models, &t.deployments);
    if let Some(v) = r.version {
        let id = stored(
            &format!(
                "SELECT {ID_AND_VERSION} FROM {models} m
                  WHERE m.name OPERATOR(pg_catalog.=) $1 AND m.version OPERATOR(pg_catalog.=) $2"
            ),
            &[r.name.into(), v.into()],
        );
        return id.ok_or_else(|| {
            let latest = max_version_in(models, r.name, false);
            match latest {
                None => no_such_model(r.name),
                Some(l) => InsightError::undefined_object(
                    format!("model \"{}\" has no version {v}", r.name),
                    format!("Versions 1 to {l} may exist; see SELECT version FROM insight.models WHERE name = '{}'.", r.name),
                ),
            }
        });
    }
    let id = stored(
        &format!(
            "SELECT {ID_AND_VERSION} FROM {deployments} d JOIN {models} m ON m.id OPERATOR(pg_catalog.=) d.model_id
              WHERE d.name OPERATOR(pg_catalog.=) $1 ORDER BY d.id DESC LIMIT 1"
        ),
        &[r.name.into()],
    );
    id.ok_or_else(|| match max_version_in(models, r.name, false) {
        None => no_such_model(r.name),
        Some(l) => InsightError::undefined_object(
            format!("model \"{}\" has no deployed version", r.name),
            format!(
                "Deploy one with SELECT insight.deploy('{}', {l}); or score a version directly as '{}@{l}'.",
                r.name, r.name
            ),
        ),
    })
}

fn no_such_model(name: &str) -> InsightError {
    InsightError::undefined_object(
        format!("model \"{name}\" does not exist"),
        format!(
            "Train it with insight.train(...); SELECT name FROM insight.model_registry lists existing models.{}",
            if crate::store::citus::present() && !crate::store::citus::catalog_distributed() {
                crate::store::citus::DISTRIBUTE_HINT
            } else {
                ""
            }
        ),
    )
}

pub fn latest_version(name: &str) -> Option<i32> {
    max_version(name, false)
}

/// The highest version of `name`, in the calling statement's snapshot or a fresh one.
fn max_version(name: &str, fresh: bool) -> Option<i32> {
    max_version_in("insight.models", name, fresh)
}

fn max_version_in(models: &str, name: &str, fresh: bool) -> Option<i32> {
    let q = format!(
        "SELECT pg_catalog.max(version) FROM {models} WHERE name OPERATOR(pg_catalog.=) $1"
    );
    if fresh {
        crate::spi::select_one_fresh::<i32>(&q, &[name.into()])
    } else {
        select_one::<i32>(&q, &[name.into()])
    }
}

/// The encoded model of row `id`. Whoever may see a model's row may score with it, but only the
/// extension's owner and roles granted SELECT on insight.models.weights may read the weights
/// themselves (an analyst scores customers without walking away with the model), so they are read
/// as the owner of insight.models, in a restricted security context, by a query that names every
/// object with its schema and runs no code of the caller's.
pub fn weights(id: i64) -> Vec<u8> {
    crate::store::citus::catalog_read(|t| {
        as_catalog_owner(|| {
            select_one::<Vec<u8>>(
                &format!(
                    "SELECT weights FROM {} WHERE id OPERATOR(pg_catalog.=) $1",
                    t.models
                ),
                &[id.into()],
            )
        })
    })
    .unwrap_or_default()
}

/// Runs `f` as the owner of insight.models (as a SECURITY DEFINER function would, with
/// SECURITY_RESTRICTED_OPERATION so that nothing it runs can change session state), restoring the
/// caller's identity when `f` returns or unwinds. An ERROR raised inside also ends in a
/// (sub)transaction abort, which restores it too.
fn as_catalog_owner<T>(f: impl FnOnce() -> T) -> T {
    let owner = select_one::<pg_sys::Oid>(
        "SELECT c.relowner FROM pg_catalog.pg_class c
          WHERE c.oid OPERATOR(pg_catalog.=) 'insight.models'::pg_catalog.regclass",
        &[],
    );
    let Some(owner) = owner else { return f() };
    struct Restore(pg_sys::Oid, i32);
    impl Drop for Restore {
        fn drop(&mut self) {
            // SAFETY: sets back the identity saved below
            unsafe { pg_sys::SetUserIdAndSecContext(self.0, self.1) }
        }
    }
    let (mut user, mut context) = (pg_sys::InvalidOid, 0i32);
    // SAFETY: plain reads and writes of the backend's current user and security context
    let _restore = unsafe {
        pg_sys::GetUserIdAndSecContext(&mut user, &mut context);
        pg_sys::SetUserIdAndSecContext(
            owner,
            context
                | pg_sys::SECURITY_LOCAL_USERID_CHANGE as i32
                | pg_sys::SECURITY_RESTRICTED_OPERATION as i32,
        );
        Restore(user, context)
    };
    f()
}

/// Whether this session may read the weights of models (export_model hands them out).
pub fn may_read_weights() -> bool {
    select_one::<bool>(
        "SELECT pg_catalog.has_column_privilege('insight.models'::pg_catalog.regclass, 'weights', 'SELECT')",
        &[],
    ) == Some(true)
}

/// The stored description of a model version (all but its weights).
pub struct ModelRow {
    pub name: String,
    pub version: i32,
    pub algorithm: String,
    pub relation: String,
    pub target: Option<String>,
    pub features: serde_json::Value,
    pub options: serde_json::Value,
    pub metrics: serde_json::Value,
    pub n_rows: i64,
}

pub fn row(id: i64) -> Option<ModelRow> {
    Spi::connect(|client| {
        let rows = client
            .select(
                "SELECT name, version, algorithm, relation, target, features, options, metrics, n_rows
                   FROM insight.models WHERE id OPERATOR(pg_catalog.=) $1",
                Some(1),
                &[id.into()],
            )
            .ok()?;
        let r = rows.first();
        let json = |i: usize| {
            r.get::<JsonB>(i)
                .ok()
                .flatten()
                .map_or(serde_json::Value::Null, |j| j.0)
        };
        Some(ModelRow {
            name: r.get::<String>(1).ok()??,
            version: r.get::<i32>(2).ok()??,
            algorithm: r.get::<String>(3).ok()??,
            relation: r.get::<String>(4).ok()??,
            target: r.get::<String>(5).ok()?,
            features: json(6),
            options: json(7),
            metrics: json(8),
            n_rows: r.get::<i64>(9).ok()?.unwrap_or(0),
        })
    })
}

/// Everything train writes about a model version, but the id and version it is given.
pub struct NewModel<'a> {
    pub name: &'a str,
    pub task: &'a str,
    pub algorithm: &'a str,
    pub relation: &'a str,
    pub target: Option<&'a str>,
    pub features: serde_json::Value,
    pub options: serde_json::Value,
    pub metrics: serde_json::Value,
    pub weights: Vec<u8>,
    pub n_rows: i64,
    pub train_seconds: f64,
    /// The report's chart data (ml::report_data), NULL when the version has none.
    pub report_data: Option<serde_json::Value>,
}

/// Inserts a new version (the next number for this name) and returns (id, version). A
/// transaction-scoped advisory lock on the name serialises concurrent trainings of one name.
pub fn insert(m: NewModel) -> (i64, i32) {
    Spi::run_with_args(
        "SELECT pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtext('insight.models'), pg_catalog.hashtext($1))",
        &[m.name.into()],
    )
        .expect("advisory lock");
    // a fresh snapshot: a version another session committed while this one waited for the lock
    // counts (the statement's own snapshot predates it)
    let version = max_version(m.name, true).unwrap_or(0) + 1;
    let name = m.name.to_string();
    // Under REPEATABLE READ the lock above can wait for another session's training of the same
    // name whose version this transaction's snapshot cannot see: the INSERT then collides on
    // (name, version). That is a serialization failure, to be retried, not a bug.
    pgrx::PgTryBuilder::new(move || insert_version(m, version))
        .catch_when(PgSqlErrorCode::ERRCODE_UNIQUE_VIOLATION, move |_| {
            InsightError::serialization(
                format!("another session stored a version of model \"{name}\" after this transaction began"),
                "Retry the transaction; or train in READ COMMITTED, where concurrent trainings of one name wait for each other.",
            )
            .raise()
        })
        .execute()
}

fn insert_version(m: NewModel, version: i32) -> (i64, i32) {
    // a catalog not yet updated to 0.2.0 has no report_data column
    let (report_column, report_param) = if has_column("insight.models", "report_data") {
        (", report_data", ", $13")
    } else {
        ("", "")
    };
    let mut args: Vec<pgrx::datum::DatumWithOid> = vec![
        m.name.into(),
        version.into(),
        m.task.into(),
        m.algorithm.into(),
        m.relation.into(),
        m.target.into(),
        JsonB(m.features).into(),
        JsonB(m.options).into(),
        JsonB(m.metrics).into(),
        m.weights.into(),
        m.n_rows.into(),
        m.train_seconds.into(),
    ];
    if !report_column.is_empty() {
        args.push(m.report_data.map(JsonB).into());
    }
    let id = Spi::get_one_with_args::<i64>(
        &format!(
            "INSERT INTO insight.models (name, version, task, algorithm, relation, target, features, options,
                                         metrics, weights, n_rows, train_seconds{report_column})
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12{report_param}) RETURNING id"
        ),
        &args,
    )
    .expect("insert model")
    .expect("model id");
    (id, version)
}

/// Why a version was deployed (insight.deployments.cause).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Cause {
    Train,
    Retrain,
    Manual,
    Rollback,
    Import,
}

impl Cause {
    fn as_str(self) -> &'static str {
        match self {
            Cause::Train => "train",
            Cause::Retrain => "retrain",
            Cause::Manual => "manual",
            Cause::Rollback => "rollback",
            Cause::Import => "import",
        }
    }
}

/// Whether a catalog table has a column: between installing this library and ALTER EXTENSION
/// pg_insight UPDATE the catalog is still 0.1.0's, without the columns 0.2.0 added, and
/// training, deploying and reporting go on there (tests/shell/upgrade.sh).
pub fn has_column(table: &str, column: &str) -> bool {
    select_one::<bool>(
        "SELECT pg_catalog.count(*) OPERATOR(pg_catalog.>) 0 FROM pg_catalog.pg_attribute
          WHERE attrelid OPERATOR(pg_catalog.=) $1::pg_catalog.regclass
            AND attname OPERATOR(pg_catalog.=) $2 AND NOT attisdropped",
        &[table.into(), column.into()],
    ) == Some(true)
}

/// The SQL for insight.models' report_data of row `m`: NULL in a catalog not yet updated to 0.2.0.
pub fn report_data_expression() -> &'static str {
    if has_column("insight.models", "report_data") {
        "m.report_data"
    } else {
        "NULL::pg_catalog.jsonb"
    }
}

pub fn deploy(name: &str, model_id: i64, strategy: &str, reason: &str, cause: Cause) {
    if !has_column("insight.deployments", "cause") {
        Spi::run_with_args(
            "INSERT INTO insight.deployments (name, model_id, strategy, reason) VALUES ($1, $2, $3, $4)",
            &[name.into(), model_id.into(), strategy.into(), reason.into()],
        )
        .expect("insert deployment");
        return;
    }
    Spi::run_with_args(
        "INSERT INTO insight.deployments (name, model_id, strategy, reason, cause) VALUES ($1, $2, $3, $4, $5)",
        &[
            name.into(),
            model_id.into(),
            strategy.into(),
            reason.into(),
            cause.as_str().into(),
        ],
    )
    .expect("insert deployment");
}

/// Appends the metrics of model row `model_id` on `relation` to insight.evaluations.
pub fn record_evaluation(model_id: i64, relation: &str, metrics: &serde_json::Value, source: &str) {
    Spi::run_with_args(
        "INSERT INTO insight.evaluations (model_id, name, version, relation, metrics, source)
         SELECT m.id, m.name, m.version, $2, $3, $4 FROM insight.models m WHERE m.id OPERATOR(pg_catalog.=) $1",
        &[
            model_id.into(),
            relation.into(),
            JsonB(metrics.clone()).into(),
            source.into(),
        ],
    )
    .expect("insert evaluation");
}

/// Appends one drift measurement (a PSI per input and of the scores) of model row `model_id` on
/// `relation` to insight.drift_history.
pub fn record_drift(model_id: i64, relation: &str, rows: &[(String, f64, String)]) {
    let features: Vec<&str> = rows.iter().map(|r| r.0.as_str()).collect();
    let psi: Vec<f64> = rows.iter().map(|r| r.1).collect();
    let status: Vec<&str> = rows.iter().map(|r| r.2.as_str()).collect();
    Spi::run_with_args(
        "INSERT INTO insight.drift_history (model_id, name, version, relation, feature, psi, status)
         SELECT m.id, m.name, m.version, $2, f.feature, f.psi, f.status
           FROM insight.models m,
                ROWS FROM (pg_catalog.unnest($3::pg_catalog.text[]), pg_catalog.unnest($4::pg_catalog.float8[]),
                           pg_catalog.unnest($5::pg_catalog.text[])) AS f(feature, psi, status)
          WHERE m.id OPERATOR(pg_catalog.=) $1",
        &[
            model_id.into(),
            relation.into(),
            features.into(),
            psi.into(),
            status.into(),
        ],
    )
    .expect("insert drift");
}

/// The metrics of the version of `name` deployed now, if any.
pub fn deployed_metrics(name: &str) -> Option<(i64, serde_json::Value)> {
    Spi::get_two_with_args::<i64, JsonB>(
        "SELECT m.id, m.metrics FROM insight.deployments d JOIN insight.models m ON m.id OPERATOR(pg_catalog.=) d.model_id
          WHERE d.name OPERATOR(pg_catalog.=) $1 ORDER BY d.id DESC LIMIT 1",
        &[name.into()],
    )
    .ok()
    .and_then(|(id, j)| Some((id?, j?.0)))
}
