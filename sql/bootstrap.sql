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
    UNIQUE (name, version)
);

CREATE TABLE insight.deployments (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name        text NOT NULL,
    model_id    bigint NOT NULL REFERENCES insight.models (id) ON DELETE CASCADE,
    strategy    text NOT NULL,
    reason      text NOT NULL DEFAULT '',
    deployed_at timestamptz NOT NULL DEFAULT now(),
    deployed_by name NOT NULL DEFAULT current_user
);
CREATE INDEX deployments_name_idx ON insight.deployments (name, id DESC);

-- models and deployments are user data: pg_dump keeps them, and the positions of their id
-- sequences (without those, the first train after a restore collides with restored ids)
SELECT pg_catalog.pg_extension_config_dump('insight.models', '');
SELECT pg_catalog.pg_extension_config_dump('insight.deployments', '');
SELECT pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('insight.models', 'id')::pg_catalog.regclass, '');
SELECT pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('insight.deployments', 'id')::pg_catalog.regclass, '');
