-- Background tasks (Iaso's iaso_task / iaso_tasklog) and the queue fields of our workers.
-- Timestamps are always written by the application (UTC, microseconds).

CREATE TABLE tasks (
    id {{pk}},
    account_id BIGINT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    -- The task type, e.g. 'import_gpkg_task'; workers only claim names they can run.
    name TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'QUEUED',
    -- Input of the handler; never shown by the API (it may hold credentials).
    params {{json}},
    result {{json}},
    progress_value BIGINT NOT NULL DEFAULT 0,
    end_value BIGINT NOT NULL DEFAULT 0,
    progress_message TEXT,
    should_be_killed BOOLEAN NOT NULL DEFAULT FALSE,
    external BOOLEAN NOT NULL DEFAULT FALSE,
    created_by_id BIGINT REFERENCES users (id) ON DELETE SET NULL,
    launcher_id BIGINT REFERENCES users (id) ON DELETE SET NULL,
    created_at {{ts}} NOT NULL,
    started_at {{ts}},
    ended_at {{ts}},
    -- Queue: not claimable before run_after; a claim increments attempts and sets a lease
    -- (worker_id, locked_until) that the worker renews while it runs (heartbeat_at). A lease
    -- that runs out means the worker died: the task is queued again, or ERRORED once
    -- attempts reaches max_attempts.
    run_after {{ts}} NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    max_attempts BIGINT NOT NULL DEFAULT 3,
    worker_id TEXT,
    locked_until {{ts}},
    heartbeat_at {{ts}},
    CHECK (status IN ('QUEUED', 'RUNNING', 'SUCCESS', 'ERRORED', 'KILLED', 'SKIPPED', 'EXPORTED'))
);
CREATE INDEX tasks_account_created ON tasks (account_id, created_at);
CREATE INDEX tasks_account_name ON tasks (account_id, name);
CREATE INDEX tasks_claimable ON tasks (run_after, id) WHERE status = 'QUEUED';
CREATE INDEX tasks_leases ON tasks (locked_until) WHERE status = 'RUNNING';

-- Every message a task reported (progress, success, error), insert-only.
CREATE TABLE task_logs (
    id {{pk}},
    task_id BIGINT NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
    message TEXT NOT NULL,
    created_at {{ts}} NOT NULL
);
CREATE INDEX task_logs_task ON task_logs (task_id, id);
