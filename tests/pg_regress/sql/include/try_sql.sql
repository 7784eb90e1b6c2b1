-- For the error goldens: runs a statement and shows its SQLSTATE, message, detail and hint. Read with \i
-- by setup.sql and by tests that switch databases (pg_regress runs psql in the repository root).
CREATE FUNCTION try_sql(q text) RETURNS text LANGUAGE plpgsql AS $f$
DECLARE st text; msg text; detail text; hint text;
BEGIN
  EXECUTE q;
  RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
  GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT, detail = PG_EXCEPTION_DETAIL,
                          hint = PG_EXCEPTION_HINT;
  RETURN st || ': ' || msg || coalesce(E'\n       DETAIL: ' || nullif(detail, ''), '')
            || coalesce(E'\n       HINT: ' || nullif(hint, ''), '');
END $f$;
