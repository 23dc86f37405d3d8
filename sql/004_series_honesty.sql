-- What the generator did besides answered requests, per second: requests
-- sent twice after a stale keep-alive connection failed (per step), time
-- VUs spent backing off after requests that could not be sent, and how
-- late iterations started after their due time (open model; the script
-- total row only, as hist.c's encoding).

ALTER TABLE run_series
    ADD COLUMN retries    bigint NOT NULL DEFAULT 0 CHECK (retries >= 0),
    ADD COLUMN backoff_ms bigint NOT NULL DEFAULT 0 CHECK (backoff_ms >= 0),
    ADD COLUMN lag_p99_ms double precision,
    ADD COLUMN lag_hist   bytea;
