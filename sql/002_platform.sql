-- The platform: scenarios and scripts under projects, runs with their
-- events and per-second series. Runs keep a snapshot of what they ran, so
-- deleting or editing a script never changes history (their references
-- become NULL instead).

CREATE TABLE scenarios (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    project_id  uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    description text NOT NULL DEFAULT '' CHECK (length(description) <= 4000),
    tags        text[] NOT NULL DEFAULT '{}' CHECK (cardinality(tags) <= 32),
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT scenarios_name_key UNIQUE (project_id, name)
);
CREATE INDEX scenarios_created_at_idx ON scenarios (created_at, id);
CREATE INDEX scenarios_tags_idx ON scenarios USING gin (tags);

CREATE TABLE scripts (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    scenario_id uuid NOT NULL REFERENCES scenarios (id) ON DELETE CASCADE,
    name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    enabled     boolean NOT NULL DEFAULT true,
    definition  jsonb NOT NULL,
    version     integer NOT NULL DEFAULT 1 CHECK (version >= 1),
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT scripts_name_key UNIQUE (scenario_id, name)
);
CREATE INDEX scripts_created_at_idx ON scripts (created_at, id);
CREATE INDEX scripts_scenario_idx ON scripts (scenario_id);

-- Every version a script ever had, the current one included.
CREATE TABLE script_versions (
    script_id   uuid NOT NULL REFERENCES scripts (id) ON DELETE CASCADE,
    version     integer NOT NULL,
    name        text NOT NULL,
    enabled     boolean NOT NULL,
    definition  jsonb NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (script_id, version)
);

CREATE TABLE runs (
    id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    kind           text NOT NULL CHECK (kind IN ('script', 'scenario')),
    project_id     uuid REFERENCES projects (id) ON DELETE SET NULL,
    scenario_id    uuid REFERENCES scenarios (id) ON DELETE SET NULL,
    script_id      uuid REFERENCES scripts (id) ON DELETE SET NULL,
    name           text NOT NULL DEFAULT '',
    status         text NOT NULL DEFAULT 'queued' CHECK (status IN
                   ('queued', 'starting', 'running', 'paused', 'stopping',
                    'finished', 'failed', 'cancelled', 'interrupted')),
    percent        double precision NOT NULL DEFAULT 100 CHECK (percent > 0 AND percent <= 10000),
    overrides      jsonb,
    origin         text NOT NULL DEFAULT 'api' CHECK (length(origin) BETWEEN 1 AND 200),
    restarted_from uuid REFERENCES runs (id) ON DELETE SET NULL,
    owner          text,            -- the server instance executing it
    heartbeat_at   timestamptz,     -- refreshed by that instance while active
    created_at     timestamptz NOT NULL DEFAULT now(),
    started_at     timestamptz,
    finished_at    timestamptz,
    summary        jsonb,
    error          text
);
CREATE INDEX runs_created_at_idx ON runs (created_at, id);
CREATE INDEX runs_active_idx ON runs (status) WHERE status IN ('queued', 'starting', 'running', 'paused', 'stopping');
CREATE INDEX runs_script_idx ON runs (script_id);
CREATE INDEX runs_scenario_idx ON runs (scenario_id);
CREATE INDEX runs_project_idx ON runs (project_id);

-- The scripts a run executes, each with the definition it ran (snapshot).
CREATE TABLE run_scripts (
    run_id      uuid NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    script_id   uuid NOT NULL,    -- not a reference: the script may be gone later
    position    integer NOT NULL,
    name        text NOT NULL,
    version     integer NOT NULL,
    definition  jsonb NOT NULL,
    status      text NOT NULL DEFAULT 'queued' CHECK (status IN
                ('queued', 'running', 'stopping', 'stopped', 'finished', 'failed', 'interrupted')),
    summary     jsonb,
    PRIMARY KEY (run_id, script_id)
);

CREATE TABLE run_events (
    id      bigserial PRIMARY KEY,
    run_id  uuid NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    at      timestamptz NOT NULL DEFAULT clock_timestamp(),
    kind    text NOT NULL,
    detail  jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX run_events_run_idx ON run_events (run_id, id);

-- One row per run, script, step and second ('' = the whole script: every
-- step merged, plus the iteration counts). A second split by the end of
-- the warmup has two rows. Histograms are hist.c's encoding, so any range
-- re-aggregates exactly.
CREATE TABLE run_series (
    run_id        uuid NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    script_id     uuid NOT NULL,
    step          text NOT NULL,
    second        integer NOT NULL CHECK (second >= 0),
    warmup        boolean NOT NULL,
    span_ms       integer NOT NULL,
    requests      bigint NOT NULL,
    failed        bigint NOT NULL,
    bytes_in      bigint NOT NULL,
    bytes_out     bigint NOT NULL,
    checks_passed bigint NOT NULL,
    checks_failed bigint NOT NULL,
    iterations    bigint NOT NULL,
    dropped       bigint NOT NULL,
    interrupted   bigint NOT NULL,
    vus           integer NOT NULL,
    vus_max       integer NOT NULL,
    errors        jsonb NOT NULL,   -- {"timeout": 2, ...}: the categories seen
    status_codes  jsonb NOT NULL,   -- {"200": 998, ...}
    p50_ms double precision, p75_ms double precision, p90_ms double precision,
    p95_ms double precision, p99_ms double precision, p99_9_ms double precision,
    max_ms double precision,        -- corrected (from the due time)
    svc_p50_ms double precision, svc_p99_ms double precision,
    svc_max_ms double precision,    -- uncorrected (service time)
    lat_hist      bytea NOT NULL,
    svc_hist      bytea NOT NULL,
    iter_hist     bytea,            -- step '' only
    PRIMARY KEY (run_id, script_id, step, second, warmup)
);
