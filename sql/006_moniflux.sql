-- MoniFlux's tests, kept so its frontend keeps working against Stampede.
-- A test is a telemetry script (project "moniflux" › scenario "tests" ›
-- script named after its testID) plus what MoniFlux says about it; its
-- state is read from the script's latest run since the last start,
-- restart or schedule (epoch_at), its schedule, and a cancel.

CREATE TABLE moniflux_tests (
    test_id      text PRIMARY KEY CHECK (length(test_id) BETWEEN 1 AND 200),
    user_id      text NOT NULL DEFAULT '' CHECK (length(user_id) <= 200),
    payload      jsonb NOT NULL,             -- the test as MoniFlux last gave it
    script_id    uuid REFERENCES scripts (id) ON DELETE SET NULL,
    schedule_id  uuid REFERENCES schedules (id) ON DELETE SET NULL,
    epoch_at     timestamptz,                -- runs from here on are this test's current one
    cancelled    boolean NOT NULL DEFAULT false,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX moniflux_tests_user_idx ON moniflux_tests (user_id, created_at);
