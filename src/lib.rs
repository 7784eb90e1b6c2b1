//! pg_insight: customer-insight machine learning inside PostgreSQL.
//!
//! Layers (data flows one way): `data` reads relations through SPI into columns, `ml` (pure Rust,
//! no pgrx) fits and scores, `store` keeps models as rows, `api` is the thin SQL surface.

use pgrx::prelude::*;

pub mod api;
pub mod data;
pub mod error;
pub mod gucs;
pub mod ml;
pub mod store;

::pgrx::pg_module_magic!(name, version);

extension_sql_file!("../sql/bootstrap.sql", name = "bootstrap", bootstrap);
extension_sql_file!("../sql/finalize.sql", name = "finalize", finalize);

#[pg_guard]
pub extern "C-unwind" fn _PG_init() {
    gucs::init();
}

#[cfg(any(test, feature = "pg_test"))]
#[pg_schema]
mod tests;

/// Required by `cargo pgrx test`.
#[cfg(test)]
pub mod pg_test {
    pub fn setup(_options: Vec<&str>) {}

    #[must_use]
    pub fn postgresql_conf_options() -> Vec<&'static str> {
        vec![]
    }
}
