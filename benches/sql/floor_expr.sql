-- Sets :floor_expr to the 'bench' logistic model written as a plain SQL expression over the raw
-- columns (coefficient / scale, intercept shifted by the means): the floor every scorer is compared with.
SELECT format('1 / (1 + exp(-(%s + %s)))',
              (p->>'intercept')::float8 - sum((p->'coefficients'->>name)::float8 * mean / scale),
              string_agg(format('%s * %I', (p->'coefficients'->>name)::float8 / scale, name), ' + '))
       AS floor_expr
  FROM (SELECT insight.model_info('bench')->'parameters' AS p, insight.model_info('bench')->'features'->'columns' AS cols) m,
       LATERAL (SELECT c->>'name' AS name, (c->'encoding'->'Scaled'->>'mean')::float8 AS mean,
                       (c->'encoding'->'Scaled'->>'scale')::float8 AS scale
                  FROM jsonb_array_elements(cols) c) f
 GROUP BY p \gset
