-- Schedules: runs started by cron expressions or at one time. A fire is
-- claimed by moving next_due_at from the due time to the one after, guarded
-- by its old value, and recording the fire under a unique (schedule, due
-- time): two servers on one database start one run per fire.

CREATE TABLE schedules (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    project_id  uuid REFERENCES projects (id) ON DELETE CASCADE,
    script_id   uuid REFERENCES scripts (id) ON DELETE CASCADE,
    scenario_id uuid REFERENCES scenarios (id) ON DELETE CASCADE,
    cron        text CHECK (length(cron) BETWEEN 1 AND 200),
    at          timestamptz,
    tz          text NOT NULL DEFAULT 'UTC' CHECK (length(tz) BETWEEN 1 AND 64),
    percent     double precision NOT NULL DEFAULT 100 CHECK (percent > 0 AND percent <= 10000),
    overrides   jsonb,
    active      boolean NOT NULL DEFAULT true,
    overlap     text NOT NULL DEFAULT 'skip' CHECK (overlap IN ('skip', 'allow', 'queue')),
    misfire     text NOT NULL DEFAULT 'run_once' CHECK (misfire IN ('skip', 'run_once')),
    next_due_at timestamptz,      -- the next fire; NULL: inactive, or a one-shot that fired
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT schedules_one_target CHECK ((script_id IS NULL) <> (scenario_id IS NULL)),
    CONSTRAINT schedules_one_when CHECK ((cron IS NULL) <> (at IS NULL))
);
CREATE INDEX schedules_created_at_idx ON schedules (created_at, id);
CREATE INDEX schedules_due_idx ON schedules (next_due_at) WHERE active AND next_due_at IS NOT NULL;

CREATE TABLE schedule_fires (
    id          bigserial PRIMARY KEY,
    schedule_id uuid NOT NULL REFERENCES schedules (id) ON DELETE CASCADE,
    due_at      timestamptz NOT NULL,
    fired_at    timestamptz NOT NULL DEFAULT clock_timestamp(),
    run_id      uuid REFERENCES runs (id) ON DELETE SET NULL,
    outcome     text NOT NULL CHECK (outcome IN
                ('pending', 'started', 'queued', 'skipped_overlap', 'missed', 'failed')),
    detail      text,
    CONSTRAINT schedule_fires_once UNIQUE (schedule_id, due_at)
);
CREATE INDEX schedule_fires_pending_idx ON schedule_fires (fired_at) WHERE outcome IN ('pending', 'queued');
CREATE INDEX runs_origin_idx ON runs (origin) WHERE status IN ('queued', 'starting', 'running', 'paused', 'stopping');
