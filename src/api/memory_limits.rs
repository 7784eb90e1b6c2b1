//! insight.max_train_memory against what training really holds (review findings F1, F2, F9):
//! the algorithms' working memory, the training aggregates' samples, the least setting.

#[cfg(any(test, feature = "pg_test"))]
#[pgrx::pg_schema]
mod tests {
    use pgrx::prelude::*;

    /// SQLSTATE, message and hint of a statement's error ('ok' when it succeeds).
    fn error_of(q: &str) -> String {
        Spi::run(
            "CREATE OR REPLACE FUNCTION pg_temp.error_of(q text) RETURNS text LANGUAGE plpgsql AS \
             $f$ DECLARE m text; h text; BEGIN EXECUTE q; RETURN 'ok'; \
             EXCEPTION WHEN OTHERS THEN GET STACKED DIAGNOSTICS m = MESSAGE_TEXT, h = PG_EXCEPTION_HINT; \
             RETURN SQLSTATE || ': ' || m || ' HINT: ' || h; END $f$",
        )
        .unwrap();
        Spi::get_one::<String>(&format!("SELECT pg_temp.error_of($q${q}$q$)"))
            .unwrap()
            .unwrap()
    }

    fn models() -> i64 {
        Spi::get_one::<i64>("SELECT count(*) FROM insight.models")
            .unwrap()
            .unwrap()
    }

    #[pg_test]
    fn the_algorithms_working_memory_counts_against_the_limit() {
        Spi::run("SET insight.max_train_memory = '128MB'").unwrap();
        Spi::run("CREATE TABLE pts AS SELECT g AS id, (g * 7919 % 10007) / 10007.0 AS x, (g * 104729 % 10007) / 10007.0 AS y FROM generate_series(1, 20000) g").unwrap();
        // average linkage of 20,000 rows keeps a 1.6 GB pairwise matrix: refused before it is built
        let e = error_of("SELECT * FROM insight.train('agg', 'pts', algorithm => 'agglomerative', features => ARRAY['x','y'], options => '{\"linkage\":\"average\",\"sample_limit\":20000,\"k\":3}')");
        assert!(e.starts_with("53200: training agglomerative needs about 1"), "{e}");
        assert!(e.contains("more than insight.max_train_memory (128 MB)"), "{e}");
        assert!(e.contains("HINT: Lower options.sample_limit"), "{e}");
        // a network of two 4096-unit layers: its parameter copies alone pass 500 MB
        Spi::run("CREATE TABLE pts1k AS SELECT x, y, x > y AS lab FROM pts LIMIT 1000").unwrap();
        let e = error_of("SELECT * FROM insight.train('big', 'pts1k', 'lab', algorithm => 'mlp', features => ARRAY['x','y'], options => '{\"hidden\":[4096,4096],\"epochs\":1}')");
        assert!(e.starts_with("53200: training mlp needs about"), "{e}");
        assert!(e.contains("HINT: Use narrower layers (options.hidden)"), "{e}");
        assert_eq!(models(), 0);
        // the same algorithms within their means train at the least setting
        Spi::run("SELECT * FROM insight.train('agg', 'pts1k', algorithm => 'agglomerative', features => ARRAY['x','y'], options => '{\"linkage\":\"average\",\"k\":3}')").unwrap();
        Spi::run("SELECT * FROM insight.train('small', 'pts1k', 'lab', algorithm => 'mlp', features => ARRAY['x','y'], options => '{\"epochs\":2}')").unwrap();
        assert_eq!(models(), 2);
    }

    #[pg_test]
    fn the_training_aggregates_stop_when_their_sample_passes_the_limit() {
        Spi::run("SET insight.max_train_memory = '128MB'").unwrap();
        let e = error_of("SELECT length(insight.fit_agg('linear', a, (g % 7)::float8, '{\"sample_size\":60000}')) FROM (SELECT g, array_fill(g::float8 / 7, ARRAY[800]) a FROM generate_series(1, 60000) g) s");
        assert!(e.starts_with("53200: a group of insight.fit_agg needs more than insight.max_train_memory (128 MB): its sample passed the 2604 rows of 800 inputs that fit"), "{e}");
        assert!(e.contains("HINT: Lower options.sample_size to at most 2604"), "{e}");
        let e = error_of("SELECT length(insight.kmeans_agg(a, 2, '{\"sample_size\":60000}')) FROM (SELECT array_fill((g % 13)::float8, ARRAY[800]) a FROM generate_series(1, 60000) g) s");
        assert!(e.starts_with("53200: a group of insight.kmeans_agg needs more"), "{e}");
        // within the limit they train, their final fit checked too
        let n = Spi::get_one::<i32>("SELECT length(insight.kmeans_agg(a, 2, '{\"sample_size\":1000}')) FROM (SELECT array_fill((g % 13)::float8, ARRAY[800]) a FROM generate_series(1, 5000) g) s").unwrap().unwrap();
        assert!(n > 0);
        // the final fit adds the algorithm's working memory: a huge network is refused there
        let e = error_of("SELECT length(insight.fit_agg('mlp', ARRAY[g::float8, g % 3], g % 2 = 0, '{\"hidden\":[4096,4096]}')) FROM generate_series(1, 500) g");
        assert!(e.starts_with("53200: training mlp needs about"), "{e}");
    }

    #[pg_test]
    fn the_least_setting_trains() {
        Spi::run("CREATE TABLE c AS SELECT * FROM insight.demo_customers(2000, 1)").unwrap();
        Spi::run("SET insight.max_train_memory = '128MB'").unwrap();
        Spi::run("SELECT * FROM insight.train('m', 'c', 'purchased', features => ARRAY['age'])")
            .unwrap();
        assert_eq!(models(), 1);
        let e = error_of("SET insight.max_train_memory = '127MB'");
        assert!(e.starts_with("22023: "), "{e}");
        assert!(e.contains("(131072 .. 2147483647)"), "{e}");
    }
}
