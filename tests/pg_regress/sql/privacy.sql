-- Personal data stays out of models: text columns that look like e-mail addresses, phone numbers
-- or names (mostly distinct, not unique: a shared household address now and then) are left out
-- of the default features with a NOTICE, and none of their values reaches insight.models,
-- model_info or export_model. Listing one in features uses it, with a WARNING (and then the
-- model does store some of its values: the check below can fail).
CREATE TABLE people AS
SELECT c.*,
       'customer' || (c.customer_id - c.customer_id % 10 / 9) || '@example.com' AS email,
       '+1 555 01' || lpad((c.customer_id * 7 % 500)::text, 5, '0') AS phone,
       (ARRAY['Anna', 'Ben', 'Chen', 'Dana', 'Eli', 'Fatima', 'Goran', 'Hana'])[c.customer_id % 8 + 1]
         || ' ' || (ARRAY['Smith', 'Li', 'Garcia', 'Novak'])[c.customer_id / 8 % 4 + 1]
         || ' ' || c.customer_id / 40 AS full_name
  FROM insight.demo_customers(600, 5) c;
SELECT count(*) AS rows, count(DISTINCT email) AS emails, count(DISTINCT phone) AS phones, count(DISTINCT full_name) AS names FROM people;
SELECT model_id AS privacy_id FROM insight.train('privacy', 'people', target => 'purchased') \gset
CREATE FUNCTION used_columns(id bigint) RETURNS text LANGUAGE sql AS $$
  SELECT string_agg(c->>'name', ', ' ORDER BY c->>'name') FROM insight.models m, jsonb_array_elements(m.features->'columns') c WHERE m.id = $1 $$;
SELECT used_columns(:privacy_id);
CREATE FUNCTION holds_identities(doc text, bytes bytea) RETURNS bool LANGUAGE sql AS $$
  SELECT doc ~ '@example\.com|\+1 555|Anna |Fatima '
      OR position(convert_to('@example.com', 'UTF8') IN bytes) > 0
      OR position(convert_to('Fatima ', 'UTF8') IN bytes) > 0
      OR position(convert_to('+1 555', 'UTF8') IN bytes) > 0 $$;
SELECT holds_identities(to_jsonb(m)::text, m.weights) AS in_models_row FROM insight.models m WHERE id = :privacy_id;
SELECT holds_identities(insight.model_info('privacy')::text, '') AS in_model_info;
SELECT holds_identities(insight.export_model('privacy')::text, '') AS in_export;
-- free text too: a text model would keep n-grams of them
SELECT model_id AS privacy_text_id FROM insight.train('privacy_text', 'people', target => 'purchased', algorithm => 'text_logistic') \gset
SELECT holds_identities(to_jsonb(m)::text, m.weights) AS in_text_model FROM insight.models m WHERE id = :privacy_text_id;
-- listed: used, with a WARNING, and stored
SELECT model_id AS listed_id FROM insight.train('privacy_listed', 'people', target => 'purchased', features => ARRAY['email', 'full_name', 'age']) \gset
SELECT holds_identities(to_jsonb(m)::text, m.weights) AS listed_in_models_row FROM insight.models m WHERE id = :listed_id;
-- categories with few values and reviews are no identities
SELECT model_id AS regions_id FROM insight.train('privacy_regions', 'people', target => 'purchased', exclude => ARRAY['email', 'phone', 'full_name']) \gset
SELECT used_columns(:regions_id);
SELECT used_columns(:listed_id);
