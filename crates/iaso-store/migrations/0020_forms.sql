-- Forms, form versions, attachments, submissions (instances) and their files, devices,
-- submission locks and raw mobile uploads (api_imports). Changes are audited in the
-- georegistry's `modifications` table (0002).

CREATE TABLE forms (
    id {{pk}},
    -- Tenancy: Iaso derives the account from the form's projects; we store it so that every
    -- lookup filters on one indexed column, and projects must belong to the same account.
    account_id BIGINT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    form_id TEXT,
    device_field TEXT,
    location_field TEXT,
    correlation_field TEXT,
    correlatable BOOLEAN NOT NULL DEFAULT FALSE,
    possible_fields {{json}},
    period_type TEXT,
    single_per_period BOOLEAN NOT NULL DEFAULT FALSE,
    periods_before_allowed BIGINT NOT NULL DEFAULT 0,
    periods_after_allowed BIGINT NOT NULL DEFAULT 0,
    derived BOOLEAN NOT NULL DEFAULT FALSE,
    uuid TEXT NOT NULL UNIQUE,
    label_keys {{json}},
    legend_threshold {{json}},
    change_request_mode TEXT NOT NULL DEFAULT 'CR_MODE_NONE',
    deleted_at {{ts}},
    created_at {{ts}} NOT NULL,
    updated_at {{ts}} NOT NULL
);
CREATE INDEX forms_account ON forms (account_id);
-- The XLSForm id_string is unique among the live forms of an account.
CREATE UNIQUE INDEX forms_form_id ON forms (account_id, form_id) WHERE form_id IS NOT NULL AND deleted_at IS NULL;

CREATE TABLE form_projects (
    form_id BIGINT NOT NULL REFERENCES forms (id) ON DELETE CASCADE,
    project_id BIGINT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    PRIMARY KEY (form_id, project_id)
);
CREATE INDEX form_projects_project ON form_projects (project_id);

CREATE TABLE form_org_unit_types (
    form_id BIGINT NOT NULL REFERENCES forms (id) ON DELETE CASCADE,
    org_unit_type_id BIGINT NOT NULL REFERENCES org_unit_types (id) ON DELETE CASCADE,
    PRIMARY KEY (form_id, org_unit_type_id)
);
CREATE INDEX form_org_unit_types_type ON form_org_unit_types (org_unit_type_id);

CREATE TABLE form_versions (
    id {{pk}},
    form_id BIGINT NOT NULL REFERENCES forms (id) ON DELETE CASCADE,
    version_id TEXT NOT NULL,
    -- Storage-relative paths (see the blob storage module).
    file TEXT NOT NULL,
    file_size BIGINT,
    md5 TEXT NOT NULL DEFAULT '',
    xls_file TEXT,
    xls_file_size BIGINT,
    form_descriptor {{json}},
    possible_fields {{json}},
    start_period TEXT,
    end_period TEXT,
    created_by_id BIGINT REFERENCES users (id) ON DELETE SET NULL,
    updated_by_id BIGINT REFERENCES users (id) ON DELETE SET NULL,
    created_at {{ts}} NOT NULL,
    updated_at {{ts}} NOT NULL,
    UNIQUE (form_id, version_id)
);

CREATE TABLE form_attachments (
    id {{pk}},
    form_id BIGINT NOT NULL REFERENCES forms (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    file TEXT NOT NULL,
    file_size BIGINT,
    md5 TEXT NOT NULL,
    created_at {{ts}} NOT NULL,
    updated_at {{ts}} NOT NULL,
    UNIQUE (form_id, name)
);

CREATE TABLE devices (
    id {{pk}},
    account_id BIGINT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    imei TEXT NOT NULL,
    test_device BOOLEAN NOT NULL DEFAULT FALSE,
    created_at {{ts}} NOT NULL,
    updated_at {{ts}} NOT NULL,
    UNIQUE (account_id, imei)
);

CREATE TABLE instances (
    id {{pk}},
    -- NULL only while an upload whose account is not known yet waits for its metadata call
    -- (anonymous /sync/form_upload/ before /api/instances/): such rows are visible nowhere.
    account_id BIGINT REFERENCES accounts (id) ON DELETE CASCADE,
    project_id BIGINT REFERENCES projects (id) ON DELETE SET NULL,
    form_id BIGINT REFERENCES forms (id),
    form_version_id BIGINT REFERENCES form_versions (id) ON DELETE SET NULL,
    -- No cascade: deleting org units that submissions point to is refused (as in Iaso).
    org_unit_id BIGINT REFERENCES org_units (id),
    -- Client-generated id of the mobile app (`id` of /api/instances/), or the XML instanceID.
    uuid TEXT,
    -- Basename of the XML: joins the two calls of the mobile flow.
    file_name TEXT,
    file TEXT,
    file_size BIGINT,
    file_md5 TEXT,
    instance_id TEXT,
    json {{json}},
    name TEXT,
    period TEXT,
    latitude DOUBLE PRECISION,
    longitude DOUBLE PRECISION,
    altitude DOUBLE PRECISION,
    accuracy DOUBLE PRECISION,
    device_id BIGINT REFERENCES devices (id) ON DELETE SET NULL,
    entity_uuid TEXT,
    entity_type_id BIGINT,
    planning_id BIGINT,
    created_by_id BIGINT REFERENCES users (id) ON DELETE SET NULL,
    last_modified_by_id BIGINT REFERENCES users (id) ON DELETE SET NULL,
    source_created_at {{ts}},
    source_updated_at {{ts}},
    export_id TEXT,
    correlation_id BIGINT,
    last_export_success_at {{ts}},
    deleted BOOLEAN NOT NULL DEFAULT FALSE,
    created_at {{ts}} NOT NULL,
    updated_at {{ts}} NOT NULL
);
CREATE INDEX instances_account_form ON instances (account_id, form_id, id);
-- Iaso's default order (updated_at): lists and exports of a form read rows in index order, so
-- SQLite never sorts (an in-memory sorter of every exported row would hold them all).
CREATE INDEX instances_form_updated ON instances (account_id, form_id, updated_at, id);
CREATE INDEX instances_org_unit ON instances (org_unit_id, account_id);
-- Map mode (bbox) on located submissions.
CREATE INDEX instances_location ON instances (account_id, longitude, latitude) WHERE latitude IS NOT NULL;
CREATE INDEX instances_period ON instances (period);
CREATE INDEX instances_updated_at ON instances (updated_at);
CREATE INDEX instances_created_at ON instances (created_at);
-- Idempotency keys of the mobile flow (see docs/decisions/0500-submissions.md).
CREATE UNIQUE INDEX instances_file_name ON instances (account_id, file_name) WHERE account_id IS NOT NULL AND file_name IS NOT NULL;
CREATE UNIQUE INDEX instances_unclaimed_file_name ON instances (file_name) WHERE account_id IS NULL AND file_name IS NOT NULL;
CREATE UNIQUE INDEX instances_uuid ON instances (account_id, uuid) WHERE account_id IS NOT NULL AND uuid IS NOT NULL;
CREATE INDEX instances_instance_id ON instances (account_id, instance_id);

CREATE TABLE instance_files (
    id {{pk}},
    instance_id BIGINT NOT NULL REFERENCES instances (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    file TEXT NOT NULL,
    file_size BIGINT,
    md5 TEXT NOT NULL DEFAULT '',
    deleted BOOLEAN NOT NULL DEFAULT FALSE,
    created_at {{ts}} NOT NULL,
    updated_at {{ts}} NOT NULL,
    UNIQUE (instance_id, name)
);

CREATE TABLE instance_locks (
    id {{pk}},
    instance_id BIGINT NOT NULL REFERENCES instances (id) ON DELETE CASCADE,
    locked_at {{ts}} NOT NULL,
    locked_by_id BIGINT NOT NULL REFERENCES users (id),
    unlocked_at {{ts}},
    unlocked_by_id BIGINT REFERENCES users (id),
    -- The level at which the lock applies: an ancestor-or-self of the submission's org unit.
    top_org_unit_id BIGINT NOT NULL REFERENCES org_units (id) ON DELETE CASCADE
);
CREATE INDEX instance_locks_instance ON instance_locks (instance_id);

-- Every raw mobile upload, written before it is processed, so that nothing a device sent is
-- lost and a failed import can be inspected and replayed.
CREATE TABLE api_imports (
    id {{pk}},
    account_id BIGINT REFERENCES accounts (id) ON DELETE CASCADE,
    user_id BIGINT REFERENCES users (id) ON DELETE SET NULL,
    import_type TEXT NOT NULL,
    json_body {{json}},
    headers {{json}},
    -- Raw request body in the blob storage (multipart uploads).
    file TEXT,
    file_size BIGINT,
    has_problem BOOLEAN NOT NULL DEFAULT FALSE,
    exception TEXT NOT NULL DEFAULT '',
    app_id TEXT NOT NULL DEFAULT '',
    app_version TEXT NOT NULL DEFAULT '',
    created_at {{ts}} NOT NULL
);
CREATE INDEX api_imports_account ON api_imports (account_id, created_at);
