-- Datasets: rows that scripts take one per iteration (docs/datasets.md),
-- uploaded as CSV or JSON or collected from an API. Global (project_id
-- NULL) or in a project; every upload or collection is a new version and
-- the older ones stay readable.

CREATE TABLE datasets (
    id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    project_id     uuid REFERENCES projects (id) ON DELETE CASCADE,   -- NULL: global
    name           text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    description    text NOT NULL DEFAULT '' CHECK (length(description) <= 4000),
    collect        json,       -- how to collect, or NULL (json keeps key order: columns follow it)
    latest_version integer NOT NULL DEFAULT 0 CHECK (latest_version >= 0),  -- 0: none yet
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now()
);
-- Names are unique within their scope: among the global datasets, and
-- within each project.
CREATE UNIQUE INDEX datasets_global_name_key ON datasets (name) WHERE project_id IS NULL;
CREATE UNIQUE INDEX datasets_project_name_key ON datasets (project_id, name) WHERE project_id IS NOT NULL;
CREATE INDEX datasets_created_at_idx ON datasets (created_at, id);

-- The rows of each version in their stored form: a JSON array of objects
-- with every column, in column order, as strings (json keeps the text as
-- written, so the order survives; jsonb would sort the keys).
CREATE TABLE dataset_versions (
    dataset_id  uuid NOT NULL REFERENCES datasets (id) ON DELETE CASCADE,
    version     integer NOT NULL CHECK (version >= 1),
    columns     text[] NOT NULL,
    row_count   bigint NOT NULL CHECK (row_count >= 0),
    bytes       bigint NOT NULL CHECK (bytes >= 0),
    content     json NOT NULL,
    origin      text NOT NULL CHECK (origin IN ('upload', 'collect')),
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (dataset_id, version)
);

-- Which dataset version each script of a run read (also pinned in its
-- snapshot's definition as dataset.version).
ALTER TABLE run_scripts
    ADD COLUMN dataset_id      uuid,
    ADD COLUMN dataset_version integer;
