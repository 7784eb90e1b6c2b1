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
pub mod report;
pub mod spi;
pub mod store;

::pgrx::pg_module_magic!(name, version);

extension_sql_file!("../sql/bootstrap.sql", name = "bootstrap", bootstrap);
extension_sql_file!("../sql/finalize.sql", name = "finalize", finalize);

#[pg_guard]
pub extern "C-unwind" fn _PG_init() {
    // With RUST_BACKTRACE in the server's environment, pgrx puts a Rust backtrace into the
    // DETAIL of every error it re-raises, which any user sees. Rust reads the variable once, at
    // the first backtrace; nothing has taken one yet when the library loads.
    std::env::remove_var("RUST_BACKTRACE");
    std::env::remove_var("RUST_LIB_BACKTRACE");
    gucs::init();
}

/// SPI and catalog behaviour; the SQL surface and its errors are pg_regress goldens
/// (tests/pg_regress) and the algorithms are pure `#[test]`s in src/ml.
#[cfg(any(test, feature = "pg_test"))]
#[pg_schema]
mod tests {
    use pgrx::prelude::*;

    fn setup_customers(n: i32) {
        Spi::run(&format!(
            "CREATE TABLE t_customers AS SELECT * FROM insight.demo_customers({n}, 3)"
        ))
        .unwrap();
    }

    #[pg_test]
    fn a_new_deployment_is_seen_without_reconnecting() {
        setup_customers(600);
        Spi::run("SELECT * FROM insight.train('m', 't_customers', target => 'purchased')").unwrap();
        Spi::run("SELECT * FROM insight.train('m', 't_customers', target => 'purchased', features => ARRAY['age'], deploy => 'never')").unwrap();
        let q = "SELECT insight.predict('m', c) FROM t_customers c WHERE customer_id = 1";
        let v1 = Spi::get_one::<f64>(q).unwrap().unwrap();
        Spi::run("SELECT insight.deploy('m', 2)").unwrap();
        let v2 = Spi::get_one::<f64>(q).unwrap().unwrap();
        let direct = Spi::get_one::<f64>(
            "SELECT insight.predict('m@2', c) FROM t_customers c WHERE customer_id = 1",
        )
        .unwrap()
        .unwrap();
        assert_ne!(v1, v2);
        assert_eq!(v2, direct);
    }

    #[pg_test]
    fn stored_model_round_trips_through_the_catalog() {
        setup_customers(400);
        Spi::run("SELECT * FROM insight.train('rt', 't_customers', target => 'purchased')")
            .unwrap();
        let bytes = Spi::get_one::<Vec<u8>>("SELECT weights FROM insight.models WHERE name = 'rt'")
            .unwrap()
            .unwrap();
        let model = crate::ml::model::Model::decode(&bytes).expect("decodes");
        assert_eq!(model.classes, vec!["false".to_string(), "true".to_string()]);
        let n_features = Spi::get_one::<i64>(
            "SELECT jsonb_array_length(features->'columns')::int8 FROM insight.models WHERE name = 'rt'",
        )
        .unwrap()
        .unwrap();
        assert_eq!(n_features as usize, model.preprocessor.features.len());
    }

    /// A panic in a helper thread (never on the backend's own thread) comes back to the
    /// backend as an ERROR of the statement, not an abort of the server.
    #[pg_test(error = "a pg_insight worker thread panicked")]
    fn a_panic_in_a_helper_thread_is_an_error() {
        let caller = std::thread::current().id();
        let helper_ran = std::sync::atomic::AtomicBool::new(false);
        let par = crate::ml::parallel::Parallel::new(2);
        let items: Vec<usize> = (0..256).collect();
        par.map(&items, |&i| {
            if std::thread::current().id() != caller {
                helper_ran.store(true, std::sync::atomic::Ordering::Release);
                panic!("job {i} failed on a helper thread");
            }
            // the backend's thread waits for the helper to take a job (at most 10 s)
            let started = std::time::Instant::now();
            while !helper_ran.load(std::sync::atomic::Ordering::Acquire)
                && started.elapsed().as_secs() < 10
            {
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
            i
        });
    }

    #[pg_test(error = "model \"nope\" does not exist")]
    fn unknown_model_is_an_error() {
        Spi::run("SELECT insight.predict('nope', ARRAY[1, 2])").unwrap();
    }
}

/// Required by `cargo pgrx test`.
#[cfg(test)]
pub mod pg_test {
    pub fn setup(_options: Vec<&str>) {}

    #[must_use]
    pub fn postgresql_conf_options() -> Vec<&'static str> {
        vec![]
    }
}
