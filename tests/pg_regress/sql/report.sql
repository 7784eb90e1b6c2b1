-- insight.report: one self-contained HTML page per model version. The golden is the whole page
-- of a fixed tiny model (timestamps and durations normalised), so any change in what the page
-- shows or how a chart is drawn shows here. tests/shell/report.sh renders the demo's reports
-- in headless Chromium.
CREATE TABLE tiny AS SELECT customer_id, age, region, visits_30d, purchased FROM insight.demo_customers(200, 11);
CREATE TABLE tiny_holdout AS SELECT customer_id, age, region, visits_30d, purchased FROM insight.demo_customers(120, 12);
SELECT name, version FROM insight.train('tiny_report', 'tiny', 'purchased', exclude => ARRAY['customer_id'], options => '{"l2": 1}');
CREATE FUNCTION normalised(page text) RETURNS text LANGUAGE sql AS $$
  SELECT regexp_replace(regexp_replace(page, '\d{4}-\d\d-\d\d \d\d:\d\d:\d\d[+-]\d\d', '<time>', 'g'),
                        'in [0-9.e-]+ s', 'in <t> s', 'g') $$;
-- the page, as stored at training (the test split), unaligned: as a file would hold it
\pset format unaligned
\pset tuples_only on
SELECT normalised(insight.report('tiny_report')) AS page;
\pset format aligned
\pset tuples_only off
-- the charts each page holds: on the test split, on a held-out relation
SELECT array_agg(m[1] ORDER BY o) AS charts FROM regexp_matches(insight.report('tiny_report'), 'id="chart-([a-z-]+)"', 'g') WITH ORDINALITY AS t(m, o);
SELECT array_agg(m[1] ORDER BY o) AS charts FROM regexp_matches(insight.report('tiny_report@1', 'tiny_holdout'), 'id="chart-([a-z-]+)"', 'g') WITH ORDINALITY AS t(m, o);
SELECT insight.report('tiny_report', 'tiny_holdout') ~ 'Evaluation on the 120 labelled rows of public.tiny_holdout' AS on_holdout;
-- a role with no grants reads the report (it shows no weights)
CREATE ROLE regress_report_reader;
SET ROLE regress_report_reader;
SELECT length(insight.report('tiny_report')) > 10000 AS reader_sees_page;
RESET ROLE;
DROP ROLE regress_report_reader;
-- what it refuses
SELECT insight.report(NULL);
SELECT insight.report('no_such_model');
SELECT insight.report('tiny_report', 'orders');
SELECT insight.report('tiny_report', 'customers_pkey');
SELECT insight.report('tiny_report', 0::regclass);
-- nothing a user names becomes markup
CREATE TABLE "<b>odd</b>" AS SELECT age AS "<i>age</i>", purchased FROM tiny;
SELECT name FROM insight.train('<script>x</script>', '"<b>odd</b>"', 'purchased');
SELECT insight.report('<script>x</script>') ~ '<(script|b|i)>' AS markup_leaked,
       insight.report('<script>x</script>') ~ '&lt;script&gt;x&lt;/script&gt;' AS escaped;
DROP TABLE "<b>odd</b>";
