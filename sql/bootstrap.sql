-- pg_insight catalog. Runs first when the extension is created (schema insight exists).

CREATE TABLE insight.models (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name          text NOT NULL CHECK (name <> '' AND position('@' in name) = 0),
    version       int NOT NULL CHECK (version >= 1),
    task          text NOT NULL,
    algorithm     text NOT NULL,
    relation      text NOT NULL,
    target        text,
    features      jsonb NOT NULL,
    options       jsonb NOT NULL DEFAULT '{}',
    metrics       jsonb NOT NULL DEFAULT '{}',
    weights       bytea NOT NULL,
    n_rows        bigint NOT NULL,
    train_seconds float8 NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    created_by    name NOT NULL DEFAULT current_user,
    -- the numbers behind insight.report's charts (ml::report_data), from the test split
    report_data   jsonb,
    UNIQUE (name, version)
);

CREATE TABLE insight.deployments (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name        text NOT NULL,
    model_id    bigint NOT NULL REFERENCES insight.models (id) ON DELETE CASCADE,
    strategy    text NOT NULL,
    reason      text NOT NULL DEFAULT '',
    deployed_at timestamptz NOT NULL DEFAULT now(),
    deployed_by name NOT NULL DEFAULT current_user,
    -- why: train (insight.train's deploy policy), retrain (champion/challenger), manual
    -- (insight.deploy), rollback (insight.deploy strategy 'rollback'), import (insight.import_model)
    cause       text NOT NULL DEFAULT 'manual'
                CHECK (cause IN ('train', 'retrain', 'manual', 'rollback', 'import'))
);
CREATE INDEX deployments_name_idx ON insight.deployments (name, id DESC);

-- Monitoring history for dashboards: metrics of a version on a relation (insight.evaluate(...,
-- record => true); every insight.retrain adds the new version's test metrics, source 'retrain',
-- and the deployed version's on the same rows, source 'champion'), and drift (insight.drift(...,
-- record => true), insight.retrain(..., when_drift_above => ...)). Name and version are kept
-- when insight.prune drops the version, so a chart over time keeps its past.
CREATE TABLE insight.evaluations (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    model_id     bigint REFERENCES insight.models (id) ON DELETE SET NULL,
    name         text NOT NULL,
    version      int NOT NULL,
    relation     text NOT NULL,
    metrics      jsonb NOT NULL,
    source       text NOT NULL CHECK (source IN ('evaluate', 'retrain', 'champion')),
    evaluated_at timestamptz NOT NULL DEFAULT now(),
    evaluated_by name NOT NULL DEFAULT current_user
);
CREATE INDEX evaluations_name_idx ON insight.evaluations (name, evaluated_at);
CREATE INDEX evaluations_model_idx ON insight.evaluations (model_id);

CREATE TABLE insight.drift_history (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    model_id    bigint REFERENCES insight.models (id) ON DELETE SET NULL,
    name        text NOT NULL,
    version     int NOT NULL,
    relation    text NOT NULL,
    feature     text NOT NULL,
    psi         float8 NOT NULL,
    status      text NOT NULL CHECK (status IN ('ok', 'watch', 'alert')),
    recorded_at timestamptz NOT NULL DEFAULT now(),
    recorded_by name NOT NULL DEFAULT current_user
);
CREATE INDEX drift_history_name_idx ON insight.drift_history (name, recorded_at);
CREATE INDEX drift_history_model_idx ON insight.drift_history (model_id);

-- models, deployments and the history are user data: pg_dump keeps them, and the positions of their id
-- sequences (without those, the first train after a restore collides with restored ids)
SELECT pg_catalog.pg_extension_config_dump('insight.models', '');
SELECT pg_catalog.pg_extension_config_dump('insight.deployments', '');
SELECT pg_catalog.pg_extension_config_dump('insight.evaluations', '');
SELECT pg_catalog.pg_extension_config_dump('insight.drift_history', '');
SELECT pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('insight.models', 'id')::pg_catalog.regclass, '');
SELECT pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('insight.deployments', 'id')::pg_catalog.regclass, '');
SELECT pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('insight.evaluations', 'id')::pg_catalog.regclass, '');
SELECT pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('insight.drift_history', 'id')::pg_catalog.regclass, '');
