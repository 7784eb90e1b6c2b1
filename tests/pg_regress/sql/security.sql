-- What any user can throw at the extension: lying arguments to the internal C functions, row
-- types changed between statements, name and char(n) columns, deployments inside procedures,
-- NULL arguments, a hostile search_path, thread settings. Every case is an ERROR with a
-- SQLSTATE or the right answer, and the server stays up (scripts/test also checks the server
-- log for a backend "terminated by signal").
\pset null '(null)'
SELECT * FROM insight.train('sec', 'customers', target => 'purchased', deploy => 'always') \gset sec_
CREATE ROLE insight_nobody;
GRANT SELECT ON customers TO insight_nobody;
GRANT EXECUTE ON FUNCTION try_sql(text) TO insight_nobody;

-- 1. The planner-rewrite targets are callable by anyone: every argument is checked, whatever
--    the caller passes (the first call crashed the server before).
SET ROLE insight_nobody;
SELECT try_sql($$SELECT insight._score_columns('sec', 0, 'customers'::regtype::oid, '(0,1)'::tid,
  1::int8, 30, 12345, 'web', 1, 2, 3, 4, 5.0, 6, true, current_date, true)$$);
SELECT try_sql($$SELECT insight._class_columns('sec', 3, 'customers'::regtype::oid, '(0,1)'::tid,
  1::int8, 30, 'north', 'web', 1, 2, 3, 4, 5.0, 6, true, current_date, 'x'::text)$$);
SELECT try_sql($$SELECT insight._score_columns('sec', 0, 'customers'::regtype::oid, '(0,1)'::tid, VARIADIC ARRAY[1, 2])$$);
SELECT try_sql($$SELECT insight._score_columns('sec', 0, 'customers'::regtype::oid, '(0,1)'::tid, 1, 2)$$);
SELECT try_sql($$SELECT insight._score_columns('sec', 0, 'int4'::regtype::oid, '(0,1)'::tid, 1)$$);
SELECT try_sql($$SELECT insight._score_columns('sec', 0, 'record'::regtype::oid, '(0,1)'::tid, 1)$$);
SELECT try_sql($$SELECT insight._score_columns('sec', 42, 'customers'::regtype::oid, '(0,1)'::tid, 1)$$);
SELECT try_sql($$SELECT insight._score_columns('sec', 0, 0::oid, '(0,1)'::tid, 1)$$);
-- the same arguments the planner would write give the real score
SELECT insight._score_columns('sec', 0, 'customers'::regtype::oid, c.ctid, c.customer_id, c.age, c.region,
         c.channel, c.tenure_days, c.visits_30d, c.email_opens_30d, c.support_tickets, c.avg_order_value,
         c.days_since_last_purchase, c.is_member, c.signup_date, c.purchased)
       = insight.predict('sec', c) AS by_hand_is_the_score
  FROM customers c WHERE customer_id = 3;
-- NULLs of every kind: NULL
SELECT insight._score_columns(NULL, NULL, NULL, NULL, NULL) AS all_null,
       insight._class_columns('sec', 3, 'customers'::regtype::oid, NULL, 1) AS null_ctid;
RESET ROLE;

-- 2. A row type changed between two statements of one session is bound again (the first
--    statement after ALTER crashed the server, or kept reading a dropped column's old data).
CREATE TABLE sec_c AS SELECT * FROM customers WHERE customer_id <= 20;
SELECT round(insight.predict('sec', c)::numeric, 6) AS before_alter FROM sec_c c WHERE customer_id = 1;
ALTER TABLE sec_c ALTER COLUMN region TYPE int USING length(region);
SELECT try_sql($$SELECT insight.predict('sec', c) FROM sec_c c WHERE customer_id = 1$$);
ALTER TABLE sec_c ALTER COLUMN region TYPE text USING 'north';
SELECT round(insight.predict('sec', c)::numeric, 6) AS after_alter_back FROM sec_c c WHERE customer_id = 1;
-- a partitioned table is scored on the direct whole-row path
CREATE TABLE sec_p (LIKE customers) PARTITION BY RANGE (customer_id);
CREATE TABLE sec_p1 PARTITION OF sec_p FOR VALUES FROM (0) TO (1000000);
INSERT INTO sec_p SELECT * FROM customers WHERE customer_id <= 20;
SELECT round(insight.predict('sec', p)::numeric, 6) AS partitioned FROM sec_p p WHERE customer_id = 1;
ALTER TABLE sec_p RENAME COLUMN age TO age_years;
SELECT try_sql($$SELECT insight.predict('sec', p) FROM sec_p p WHERE customer_id = 1$$);
ALTER TABLE sec_p RENAME COLUMN age_years TO age;
ALTER TABLE sec_p DROP COLUMN visits_30d;
SELECT try_sql($$SELECT insight.predict('sec', p) FROM sec_p p WHERE customer_id = 1$$);
ALTER TABLE sec_p ADD COLUMN visits_30d int;
-- the re-added column is NULL (imputed): same score as the original row with a NULL there
SELECT round(insight.predict('sec', p)::numeric, 9) = round(insight.predict('sec', c)::numeric, 9) AS readded_column_is_null
  FROM sec_p p JOIN (SELECT customer_id, age, region, channel, tenure_days, NULL::int AS visits_30d, email_opens_30d,
                            support_tickets, avg_order_value, days_since_last_purchase, is_member, signup_date
                       FROM customers) c USING (customer_id)
 WHERE customer_id = 1;
-- the same in PL/pgSQL, where one expression lives across statements
CREATE FUNCTION sec_score(id int8) RETURNS float8 LANGUAGE plpgsql AS $f$
DECLARE r sec_c; BEGIN
  SELECT * INTO r FROM sec_c WHERE customer_id = id;
  RETURN insight.predict('sec', r);
END $f$;
SELECT round(sec_score(1)::numeric, 6) AS plpgsql_before;
ALTER TABLE sec_c ALTER COLUMN region TYPE int USING length(region);
SELECT try_sql($$SELECT sec_score(1)$$);

-- 3. name and char(n) columns score like the text they hold (a name was read as a text
--    pointer and crashed the server; char(n) kept its padding and fell into "(other)").
CREATE TABLE sec_typed AS SELECT customer_id, region::name AS region, channel::char(12) AS channel,
       visits_30d, purchased FROM customers;
CREATE TABLE sec_text AS SELECT customer_id, region::text AS region, trim(channel)::text AS channel, visits_30d
  FROM sec_typed;
SELECT model_id > 0 AS trained FROM insight.train('sec_typed', 'sec_typed', target => 'purchased',
  features => ARRAY['region', 'channel', 'visits_30d']);
SELECT count(*) AS rows, max(abs(insight.predict('sec_typed', t) - insight.predict('sec_typed', x))) < 1e-12 AS same_as_text
  FROM sec_typed t JOIN sec_text x USING (customer_id);
SELECT max(abs(insight.predict('sec_typed', s) - insight.predict('sec_typed', x))) < 1e-12 AS direct_path_same
  FROM (SELECT * FROM sec_typed) s JOIN sec_text x USING (customer_id);
SELECT insight.predict('sec_typed', ROW('dave'::name, 'web'::char(12), 3))
     = insight.predict('sec_typed', ROW('dave'::text, 'web'::text, 3)) AS name_literal;

-- 4. A new deployment is seen inside a procedure or DO block that commits in between.
SELECT version FROM insight.train('sec_dep', 'customers', target => 'purchased', deploy => 'always');
SELECT version FROM insight.train('sec_dep', 'customers', target => 'purchased',
  features => ARRAY['age', 'region'], deploy => 'never');
CREATE TABLE sec_seen (step int, score float8);
DO $$
DECLARE r customers;
BEGIN
  SELECT * INTO r FROM customers WHERE customer_id = 1;
  INSERT INTO sec_seen VALUES (1, insight.predict('sec_dep', r));
  COMMIT;
  PERFORM insight.deploy('sec_dep', 2);
  COMMIT;
  INSERT INTO sec_seen VALUES (2, insight.predict('sec_dep', r));
END $$;
SELECT s1.score = insight.predict('sec_dep@1', c) AS first_is_v1,
       s2.score = insight.predict('sec_dep@2', c) AS then_v2
  FROM sec_seen s1, sec_seen s2, customers c WHERE s1.step = 1 AND s2.step = 2 AND c.customer_id = 1;

-- 5. NULL arguments: NULL (strict functions) or 22004 naming the argument, never XX000.
SELECT try_sql($$SELECT insight.deploy(NULL)$$);
SELECT try_sql($$SELECT insight.deploy('sec', 1, NULL)$$);
SELECT try_sql($$SELECT * FROM insight.train(NULL, 'customers', target => 'purchased')$$);
SELECT try_sql($$SELECT * FROM insight.train('m', NULL, target => 'purchased')$$);
SELECT try_sql($$SELECT * FROM insight.train('m', 'customers', target => 'purchased', features => '{"", NULL}')$$);
SELECT try_sql($$SELECT * FROM insight.train('m', 'customers', target => 'purchased', exclude => ARRAY[NULL])$$);
SELECT try_sql($$SELECT * FROM insight.train('m', 'customers', target => 'purchased', test_size => NULL)$$);
SELECT try_sql($$SELECT * FROM insight.train('m', 'customers', target => 'purchased', options => NULL)$$);
SELECT try_sql($$CALL insight.score_table('sec', 'customers', NULL, 'customer_id')$$);
SELECT try_sql($$CALL insight.score_table('sec', 'customers', 'sec_scores', 'customer_id', NULL)$$);
-- every function and procedure of the extension called with NULL for every argument
DO $$
DECLARE f record; st text; msg text; call text; n int := 0;
BEGIN
  FOR f IN SELECT p.oid::regprocedure AS sig, p.proname, p.prokind, p.pronargs,
                  array_to_string(ARRAY(SELECT 'NULL::' || format_type(t, NULL) FROM unnest(p.proargtypes::oid[]) t
                                         WHERE t <> 'internal'::regtype), ', ') AS args
             FROM pg_proc p WHERE p.pronamespace = 'insight'::regnamespace
              AND NOT 'internal'::regtype = ANY (p.proargtypes::oid[]) ORDER BY 1::text
  LOOP
    call := CASE f.prokind WHEN 'p' THEN 'CALL ' WHEN 'a' THEN 'SELECT ' ELSE 'SELECT * FROM ' END
            || 'insight.' || quote_ident(f.proname) || '(' || replace(replace(f.args, 'NULL::"any"', 'NULL'), 'NULL::anyelement', 'NULL::integer[]') || ')';
    BEGIN
      EXECUTE call;
      st := 'NULL';
    EXCEPTION WHEN OTHERS THEN
      GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT;
    END;
    IF st NOT IN ('NULL', '22004') THEN
      RAISE NOTICE '% gave % %', f.sig, st, msg;
    END IF;
    n := n + 1;
  END LOOP;
  RAISE NOTICE 'called % routines of schema insight with NULL arguments', n;
END $$;

-- 6. Internal SQL never resolves names through the caller's search_path: a schema put first
--    that shadows functions, operators and types pg_insight uses is never called.
CREATE SCHEMA sec_evil;
CREATE FUNCTION sec_evil.trap() RETURNS bool LANGUAGE plpgsql AS $f$
BEGIN RAISE EXCEPTION 'a function of schema sec_evil was called'; END $f$;
CREATE FUNCTION sec_evil.eq(text, text) RETURNS bool LANGUAGE sql AS 'SELECT sec_evil.trap()';
CREATE FUNCTION sec_evil.eq(int4, int4) RETURNS bool LANGUAGE sql AS 'SELECT sec_evil.trap()';
CREATE FUNCTION sec_evil.eq(int8, int8) RETURNS bool LANGUAGE sql AS 'SELECT sec_evil.trap()';
CREATE FUNCTION sec_evil.eq(oid, oid) RETURNS bool LANGUAGE sql AS 'SELECT sec_evil.trap()';
CREATE FUNCTION sec_evil.eq(name, name) RETURNS bool LANGUAGE sql AS 'SELECT sec_evil.trap()';
CREATE OPERATOR sec_evil.= (LEFTARG = text, RIGHTARG = text, FUNCTION = sec_evil.eq);
CREATE OPERATOR sec_evil.= (LEFTARG = int4, RIGHTARG = int4, FUNCTION = sec_evil.eq);
CREATE OPERATOR sec_evil.= (LEFTARG = int8, RIGHTARG = int8, FUNCTION = sec_evil.eq);
CREATE OPERATOR sec_evil.= (LEFTARG = oid, RIGHTARG = oid, FUNCTION = sec_evil.eq);
CREATE OPERATOR sec_evil.= (LEFTARG = name, RIGHTARG = name, FUNCTION = sec_evil.eq);
CREATE FUNCTION sec_evil.unnest(anyarray) RETURNS SETOF anyelement LANGUAGE plpgsql AS $f$
BEGIN PERFORM sec_evil.trap(); END $f$;
CREATE FUNCTION sec_evil.parse_ident(text, bool DEFAULT true) RETURNS text[] LANGUAGE sql AS 'SELECT CASE WHEN sec_evil.trap() THEN NULL::text[] END';
CREATE FUNCTION sec_evil.quote_ident(text) RETURNS text LANGUAGE sql AS 'SELECT CASE WHEN sec_evil.trap() THEN $1 END';
CREATE FUNCTION sec_evil.array_to_string(anyarray, text) RETURNS text LANGUAGE sql AS 'SELECT CASE WHEN sec_evil.trap() THEN $2 END';
CREATE FUNCTION sec_evil.to_regclass(text) RETURNS regclass LANGUAGE sql AS 'SELECT CASE WHEN sec_evil.trap() THEN NULL::regclass END';
CREATE FUNCTION sec_evil.hashtext(text) RETURNS int LANGUAGE sql AS 'SELECT CASE WHEN sec_evil.trap() THEN 1 END';
CREATE FUNCTION sec_evil.format_type(oid, int) RETURNS text LANGUAGE sql AS 'SELECT CASE WHEN sec_evil.trap() THEN $1::text END';
CREATE FUNCTION sec_evil.count(anyelement) RETURNS bigint LANGUAGE sql AS 'SELECT CASE WHEN sec_evil.trap() THEN 1::bigint END';
CREATE FUNCTION sec_evil.max(int) RETURNS int LANGUAGE sql AS 'SELECT CASE WHEN sec_evil.trap() THEN 1 END';
CREATE TYPE sec_evil.float8 AS (x int);
CREATE TYPE sec_evil.text AS (x int);
CREATE TYPE sec_evil.int2 AS (x int);
CREATE TYPE sec_evil.regclass AS (x int);
SET search_path = sec_evil, public, pg_catalog;
SELECT version, deployed FROM insight.train('sec_path', 'customers', target => 'purchased');
SELECT round(insight.predict('sec_path', c)::numeric, 6) = round(insight.predict('sec_path@1', c)::numeric, 6) AS scored
  FROM customers c WHERE customer_id = 1;
SELECT insight.predict_class('sec_path', c) IS NOT NULL AS classified FROM customers c WHERE customer_id = 1;
SELECT count(*) > 0 AS explained FROM customers c, insight.explain('sec_path', c) e WHERE c.customer_id = 1;
SELECT (insight.evaluate('sec_path', 'customers')->>'roc_auc')::pg_catalog.float8 > 0.7 AS evaluated;
SELECT count(*) > 0 AS roc FROM insight.roc_curve('sec_path', 'customers');
SELECT count(*) AS lift_bins FROM insight.lift('sec_path', 'customers');
SELECT insight.model_info('sec_path')->>'name' AS info;
SELECT count(*) > 0 AS importance FROM insight.feature_importance('sec_path');
SELECT insight.deploy('sec_path', 1) > 0 AS deployed_by_version, insight.deploy('sec_path') > 0 AS deployed_best,
       insight.deploy('sec_path', strategy => 'latest') > 0 AS deployed_latest;
CALL insight.score_table('sec_path', 'customers', 'sec_path_scores', 'customer_id', 'replace');
SELECT count(*) AS scored_rows FROM sec_path_scores;
RESET search_path;

-- 7. Threads: a session asks for up to insight.threads, a superuser caps it with
--    insight.max_threads, which other roles cannot change; `insight.` is a reserved prefix.
SET ROLE insight_nobody;
SELECT try_sql($$SET insight.max_threads = 64$$);
RESET ROLE;
SET insight.max_threads = 1;
SET insight.threads = 8;
SELECT metrics->>'threads' AS threads_used FROM insight.train('sec_threads', 'customers', target => 'purchased');
RESET insight.max_threads;
RESET insight.threads;
SELECT try_sql($$SET insight.no_such_setting = 1$$);

DROP SCHEMA sec_evil CASCADE;
DROP FUNCTION sec_score(int8);
REVOKE ALL ON customers FROM insight_nobody;
REVOKE ALL ON FUNCTION try_sql(text) FROM insight_nobody;
DROP ROLE insight_nobody;
