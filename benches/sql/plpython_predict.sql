-- What users do today: a scikit-learn LogisticRegression with the 'bench' model's coefficients,
-- called per row from PL/Python (the model is built once per session and kept in GD).
CREATE OR REPLACE FUNCTION bench_sk_predict(x float8[]) RETURNS float8 LANGUAGE plpython3u STABLE AS $py$
if 'model' not in GD:
    import json, numpy as np
    from sklearn.linear_model import LogisticRegression
    info = json.loads(plpy.execute("SELECT insight.model_info('bench')::text AS j")[0]['j'])
    cols = info['features']['columns']
    p = info['parameters']
    coef = np.array([p['coefficients'][c['name']] / c['encoding']['Scaled']['scale'] for c in cols])
    b = p['intercept'] - sum(p['coefficients'][c['name']] * c['encoding']['Scaled']['mean'] / c['encoding']['Scaled']['scale'] for c in cols)
    m = LogisticRegression()
    m.classes_ = np.array([False, True]); m.coef_ = coef.reshape(1, -1); m.intercept_ = np.array([b])
    GD['model'] = m; GD['np'] = np
return float(GD['model'].predict_proba(GD['np'].array(x).reshape(1, -1))[0, 1])
$py$;
