-- In a database whose encoding is not UTF-8, text that is not valid UTF-8 is an error at
-- training and at scoring (it was read unchecked at scoring), for every way a row is passed.
SET client_min_messages = warning;
DROP DATABASE IF EXISTS insight_latin1;
RESET client_min_messages;
CREATE DATABASE insight_latin1 ENCODING 'LATIN1' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0;
\c insight_latin1
SET client_min_messages = warning;
CREATE EXTENSION pg_insight;
CREATE TABLE t AS SELECT i, CASE WHEN i % 2 = 0 THEN 'north' ELSE 'south' END AS region,
       (CASE WHEN i % 2 = 0 THEN 'x' ELSE 'y' END)::char(3) AS code, i % 3 = 0 AS y
  FROM generate_series(1, 300) i;
SELECT version FROM insight.train('enc', 't', target => 'y', features => ARRAY['region', 'code', 'i']);
-- ASCII text scores as usual
SELECT round(insight.predict('enc', t)::numeric, 6) AS ascii_row FROM t WHERE i = 2;
-- a LATIN1 e-acute (one byte, 0xE9) is not UTF-8
INSERT INTO t VALUES (1000, 'caf' || convert_from('\xe9', 'LATIN1'), 'x', true),
                     (1001, 'north', convert_from('\xe9', 'LATIN1'), true);
SELECT i, octet_length(region) AS region_bytes, octet_length(code) AS code_bytes FROM t WHERE i >= 1000;
\i tests/pg_regress/sql/include/try_sql.sql
-- a table row (rewritten to column arguments), a subquery row, char(n), an anonymous ROW
SELECT try_sql($$SELECT insight.predict('enc', t) FROM t WHERE i = 1000$$);
SELECT try_sql($$SELECT insight.predict('enc', t) FROM (SELECT * FROM t) t WHERE i = 1000$$);
SELECT try_sql($$SELECT insight.predict('enc', t) FROM t WHERE i = 1001$$);
SELECT try_sql($$SELECT insight.predict('enc', ROW(region, code, i)) FROM t WHERE i = 1000$$);
-- training reads it the same way
SELECT try_sql($$SELECT * FROM insight.train('enc', 't', target => 'y', features => ARRAY['region', 'i'])$$);
\c pg_insight_regress
DROP DATABASE insight_latin1;
