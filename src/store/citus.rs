//! What pg_insight does differently on a Citus cluster. Nothing here runs, or costs more than a
//! cached catalog lookup, on a server without Citus.
//!
//! On Citus, `insight.distribute_catalog()` (sql/finalize.sql) makes the catalog tables reference
//! tables: every node then holds every model. Two things follow:
//!
//! - A scorer pushed down to a worker runs inside the query of one shard, and reads the catalog
//!   there. Citus refuses a distributed query (and a reference table read through its name is one)
//!   from within a shard's query unless `citus.allow_nested_distributed_execution` is on, because a
//!   nested query in general may see another snapshot than the outer one. The catalog's reads
//!   are safe nested: a reference table has a placement on every node, read by local execution in
//!   the same transaction, and model rows are never updated in place. So the catalog reads turn
//!   that setting on for themselves only (`catalog_read`).
//! - The planner rewrite of `predict(model, table_row)` (api::rewrite) puts the row type's OID and
//!   column numbers into the call; Citus ships the query text to the workers, where that OID names
//!   another type, or none. A row of a Citus table is therefore left to the workers, whose planner
//!   rewrites the call for their own shard (`is_citus_table`).

use crate::spi::select_one;
use pgrx::prelude::*;

const NESTED: &std::ffi::CStr = c"citus.allow_nested_distributed_execution";

/// Whether Citus's metadata exists in this database (CREATE EXTENSION citus ran here).
pub fn present() -> bool {
    // SAFETY: a syscache lookup by name in pg_catalog
    unsafe {
        pg_sys::get_relname_relid(
            c"pg_dist_partition".as_ptr(),
            pg_sys::Oid::from(pg_sys::PG_CATALOG_NAMESPACE),
        ) != pg_sys::InvalidOid
    }
}

/// Whether any of `relids` is a Citus table (distributed, reference or Citus local): its rows
/// live in shards, which on a worker are other relations with other OIDs. Asked by the planner
/// for each query calling a row scorer, so the answers are kept per backend, and forgotten at
/// any relcache invalidation (Citus invalidates a table's relcache entry when it adds or
/// removes its metadata).
pub fn any_citus_table(relids: Vec<pg_sys::Oid>) -> bool {
    present() && relids.into_iter().any(is_citus_table)
}

thread_local! {
    static KNOWN: std::cell::RefCell<std::collections::HashMap<pg_sys::Oid, bool>> =
        std::cell::RefCell::new(std::collections::HashMap::new());
    static LISTENING: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

#[pg_guard]
unsafe extern "C-unwind" fn forget(_arg: pg_sys::Datum, _relid: pg_sys::Oid) {
    // no borrow is held across a catalog read (which may run this), so this cannot collide
    KNOWN.with(|k| k.borrow_mut().clear());
}

fn is_citus_table(relid: pg_sys::Oid) -> bool {
    if !LISTENING.with(|l| l.replace(true)) {
        // SAFETY: registers a function that clears a map; once per backend, in a Citus database
        unsafe { pg_sys::CacheRegisterRelcacheCallback(Some(forget), pg_sys::Datum::from(0)) };
    }
    if let Some(known) = KNOWN.with(|k| k.borrow().get(&relid).copied()) {
        return known;
    }
    let citus = select_one::<bool>(
        "SELECT EXISTS (SELECT FROM pg_catalog.pg_dist_partition p
                         WHERE p.logicalrelid OPERATOR(pg_catalog.=) $1)",
        &[relid.into()],
    ) == Some(true);
    KNOWN.with(|k| k.borrow_mut().insert(relid, citus));
    citus
}

/// Whether insight.models is a Citus table here (insight.distribute_catalog ran); false where
/// Citus is absent. Where Citus runs and this is false, a model trained on the coordinator is
/// unknown to the workers.
pub fn catalog_distributed() -> bool {
    is_citus_relation("insight.models")
}

/// Hint for a model that cannot be found, on a Citus node whose catalog is not distributed.
/// (Starts with a space: it follows the usual hint.)
pub const DISTRIBUTE_HINT: &str = " On a Citus cluster, run SELECT insight.distribute_catalog(); on the coordinator once: it makes the model catalog a reference table, so that every node sees every model.";

/// Where a read of the catalog finds it: insight.models and insight.deployments, or, in a
/// parallel worker on a Citus node, this node's placements of them.
pub struct CatalogTables {
    pub models: String,
    pub deployments: String,
    /// The catalog is a set of Citus reference tables: the caller reads it as the catalog's owner
    /// (what it reads, ids, names, versions and row versions, anyone may read). Citus copies the
    /// catalog's column privileges to its shards without those of the system columns xmin and
    /// cmin, which a model's row version is read from; and a shard read directly has Citus's
    /// copy of the privileges, not the catalog's.
    pub as_owner: bool,
}

/// Runs `f`, a read of the model catalog (see the module comment), with the tables to read:
/// - where the catalog is not a Citus table, the catalog, as the caller;
/// - in a parallel worker where it is, this node's placement of it: Citus cannot run a
///   distributed query in a parallel worker (it would open a coordinated transaction there, which
///   fails at the worker's end with "cannot use 2PC in transactions involving multiple
///   servers"), and every node holds a placement of a reference table;
/// - elsewhere where it is, the catalog, with `citus.allow_nested_distributed_execution` on; it
///   is back to what it was when `f` returns, and on an ERROR the (sub)transaction abort puts it
///   back.
pub fn catalog_read<T>(f: impl FnOnce(&CatalogTables) -> T) -> T {
    let tables = |as_owner| CatalogTables {
        models: "insight.models".into(),
        deployments: "insight.deployments".into(),
        as_owner,
    };
    if !catalog_distributed() {
        return f(&tables(false));
    }
    // SAFETY: a plain read of a backend global
    if unsafe { pg_sys::ParallelWorkerNumber } >= 0 {
        let Some(local) = local_placements() else {
            crate::error::InsightError::not_supported(
                "a parallel worker of this node cannot read the model catalog: this node holds no copy of it",
                "Add the coordinator to the cluster's metadata (SELECT citus_set_coordinator_host(host, port);), which gives it a copy of every reference table, or score with max_parallel_workers_per_gather = 0.",
            )
            .raise()
        };
        return f(&local);
    }
    if setting(NESTED).as_deref() != Some("off") {
        return f(&tables(true));
    }
    struct Restore(i32);
    impl Drop for Restore {
        fn drop(&mut self) {
            // while unwinding from an ERROR, the abort that follows restores the setting; calling
            // into PostgreSQL then is best avoided
            if !std::thread::panicking() {
                // SAFETY: pops the GUC nest level pushed below, keeping nothing set in it
                unsafe { pg_sys::AtEOXact_GUC(true, self.0) }
            }
        }
    }
    // SAFETY: a nest level as a function's SET clause makes one (GUC_ACTION_SAVE, which
    // PostgreSQL allows in parallel mode too)
    let _restore = unsafe { Restore(pg_sys::NewGUCNestLevel()) };
    set(NESTED, c"on", pg_sys::GucAction::GUC_ACTION_SAVE);
    f(&tables(true))
}

/// This node's placements of insight.models and insight.deployments where they are Citus
/// reference tables with a placement here, else None.
fn local_placements() -> Option<CatalogTables> {
    if !present() {
        return None;
    }
    let names = select_one::<Vec<String>>(
        "SELECT pg_catalog.array_agg(pg_catalog.shard_name(s.logicalrelid, s.shardid)
                                     ORDER BY s.logicalrelid OPERATOR(pg_catalog.=) 'insight.models'::pg_catalog.regclass DESC)
           FROM pg_catalog.pg_dist_shard s
           JOIN pg_catalog.pg_dist_placement p ON p.shardid OPERATOR(pg_catalog.=) s.shardid
          WHERE s.logicalrelid OPERATOR(pg_catalog.=) ANY (ARRAY['insight.models'::pg_catalog.regclass,
                                                                 'insight.deployments'::pg_catalog.regclass])
            AND p.groupid OPERATOR(pg_catalog.=) (SELECT g.groupid FROM pg_catalog.pg_dist_local_group g)
            AND pg_catalog.to_regclass(pg_catalog.shard_name(s.logicalrelid, s.shardid)) IS NOT NULL",
        &[],
    )?;
    match names.as_slice() {
        [models, deployments] => Some(CatalogTables {
            models: models.clone(),
            deployments: deployments.clone(),
            as_owner: true,
        }),
        _ => None,
    }
}

/// Called before a function writes the catalog (store::catalog::check_can_write), where it is a
/// set of Citus reference tables:
/// - on a worker the write is refused: the ids of the catalog's rows come from sequences of the
///   coordinator (a worker's would collide with them);
/// - Citus refuses to write a reference table that others reference by foreign key
///   (insight.models) in a transaction that read a distributed table over parallel connections,
///   as insight.train does with its training rows; in sequential mode (one connection per node)
///   it may. So the rest of the transaction runs in sequential mode, as Citus itself switches
///   when a reference table is written first (SET LOCAL citus.multi_shard_modify_mode).
pub fn prepare_catalog_write() -> crate::error::Result<()> {
    if !catalog_distributed() {
        return Ok(());
    }
    if select_one::<bool>("SELECT pg_catalog.citus_is_coordinator()", &[]) == Some(false) {
        return Err(crate::error::InsightError::not_supported(
            "models are trained, deployed and recorded on the Citus coordinator, and this node is a worker",
            "Connect to the coordinator and run it there; every node scores the models it stores.",
        ));
    }
    if setting(MODIFY_MODE).as_deref() == Some("parallel") {
        set(
            MODIFY_MODE,
            c"sequential",
            pg_sys::GucAction::GUC_ACTION_LOCAL,
        );
    }
    Ok(())
}

const MODIFY_MODE: &std::ffi::CStr = c"citus.multi_shard_modify_mode";

/// The value of a setting, None where no library defines it (Citus is not loaded).
fn setting(name: &std::ffi::CStr) -> Option<String> {
    // SAFETY: GetConfigOption with missing_ok returns NULL for a setting no library defined, else
    // a string owned by the GUC machinery that is copied at once
    unsafe {
        let v = pg_sys::GetConfigOption(name.as_ptr(), true, false);
        (!v.is_null()).then(|| std::ffi::CStr::from_ptr(v).to_string_lossy().into_owned())
    }
}

/// Sets a Citus setting that exists (`setting` returned Some) and that any user may set.
fn set(name: &std::ffi::CStr, value: &std::ffi::CStr, action: pg_sys::GucAction::Type) {
    // SAFETY: both settings are PGC_USERSET and the values valid, so this cannot fail
    unsafe {
        pg_sys::set_config_option(
            name.as_ptr(),
            value.as_ptr(),
            pg_sys::GucContext::PGC_USERSET,
            pg_sys::GucSource::PGC_S_SESSION,
            action,
            true,
            0,
            false,
        );
    }
}

/// Whether the relation named `relation` (as a query would name it) is a Citus table.
pub fn is_citus_relation(relation: &str) -> bool {
    present()
        && select_one::<bool>(
            "SELECT EXISTS (SELECT FROM pg_catalog.pg_dist_partition p
                             WHERE p.logicalrelid OPERATOR(pg_catalog.=) pg_catalog.to_regclass($1))",
            &[relation.into()],
        ) == Some(true)
}
