-- The georegistry: data sources and their versions, org unit types, org units (the versioned
-- tree), groups and group sets, the audit log, and the profile restrictions that use them.
-- See docs/decisions/0300-georegistry-storage.md.

-- A data source belongs to the account that created it and is shared with the accounts of the
-- projects it is linked to (Iaso's tenancy link).
CREATE TABLE data_sources (
    id {{pk}},
    account_id BIGINT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    -- lower(name): unique per account (Iaso makes it global, which leaks other tenants' names).
    name_key TEXT NOT NULL,
    description TEXT,
    read_only BOOLEAN NOT NULL DEFAULT FALSE,
    public BOOLEAN NOT NULL DEFAULT FALSE,
    -- A version of this source; cleared by the application when that version is deleted.
    default_version_id BIGINT,
    tree_config_status_fields {{json}} NOT NULL,
    created_at {{ts}} NOT NULL,
    updated_at {{ts}} NOT NULL,
    UNIQUE (account_id, name_key)
);

CREATE TABLE data_source_projects (
    data_source_id BIGINT NOT NULL REFERENCES data_sources (id) ON DELETE CASCADE,
    project_id BIGINT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    PRIMARY KEY (data_source_id, project_id)
);
CREATE INDEX data_source_projects_project ON data_source_projects (project_id);

CREATE TABLE source_versions (
    id {{pk}},
    data_source_id BIGINT NOT NULL REFERENCES data_sources (id) ON DELETE CASCADE,
    number BIGINT NOT NULL,
    description TEXT,
    created_at {{ts}} NOT NULL,
    updated_at {{ts}} NOT NULL,
    UNIQUE (data_source_id, number)
);

CREATE TABLE org_unit_types (
    id {{pk}},
    account_id BIGINT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    short_name TEXT NOT NULL DEFAULT '',
    -- COUNTRY, REGION, DISTRICT, HF or NULL.
    category TEXT,
    depth BIGINT,
    created_at {{ts}} NOT NULL,
    updated_at {{ts}} NOT NULL
);
CREATE INDEX org_unit_types_account ON org_unit_types (account_id);

CREATE TABLE org_unit_type_projects (
    org_unit_type_id BIGINT NOT NULL REFERENCES org_unit_types (id) ON DELETE CASCADE,
    project_id BIGINT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    PRIMARY KEY (org_unit_type_id, project_id)
);
CREATE INDEX org_unit_type_projects_project ON org_unit_type_projects (project_id);

-- Allowed child types (`sub_unit_types`).
CREATE TABLE org_unit_type_sub_types (
    org_unit_type_id BIGINT NOT NULL REFERENCES org_unit_types (id) ON DELETE CASCADE,
    sub_type_id BIGINT NOT NULL REFERENCES org_unit_types (id) ON DELETE CASCADE,
    PRIMARY KEY (org_unit_type_id, sub_type_id)
);
CREATE INDEX org_unit_type_sub_types_sub ON org_unit_type_sub_types (sub_type_id);

-- Child types the mobile app may create (`allow_creating_sub_unit_types`).
CREATE TABLE org_unit_type_creatable_sub_types (
    org_unit_type_id BIGINT NOT NULL REFERENCES org_unit_types (id) ON DELETE CASCADE,
    sub_type_id BIGINT NOT NULL REFERENCES org_unit_types (id) ON DELETE CASCADE,
    PRIMARY KEY (org_unit_type_id, sub_type_id)
);
CREATE INDEX org_unit_type_creatable_sub_types_sub ON org_unit_type_creatable_sub_types (sub_type_id);

-- A node of the tree. `path` is the materialised path of ids, root first ("1.5.42"), compared
-- byte-wise so that a subtree is the range [path || '.', path || '/'); `depth` is its number
-- of levels (1 for a root). Geometry: the point as plain columns, shapes as ISO WKB blobs
-- (iaso-geo), and a bounding box (of the shape, else of the point) for map queries.
CREATE TABLE org_units (
    id {{pk}},
    version_id BIGINT NOT NULL REFERENCES source_versions (id) ON DELETE CASCADE,
    parent_id BIGINT REFERENCES org_units (id) ON DELETE CASCADE,
--@postgres
    path TEXT COLLATE "C" NOT NULL,
--@end
--@sqlite
    path TEXT COLLATE BINARY NOT NULL,
--@end
    depth BIGINT NOT NULL,
    name TEXT NOT NULL,
    -- lower(name): text search and ordering by name.
    name_key TEXT NOT NULL,
    uuid TEXT,
    custom BOOLEAN NOT NULL DEFAULT FALSE,
    validation_status TEXT NOT NULL DEFAULT 'NEW',
    org_unit_type_id BIGINT REFERENCES org_unit_types (id) ON DELETE SET NULL,
    -- JSON array of alternative names; aliases_key = '|' || lower(alias) || '|' ... for search.
    aliases {{json}},
    aliases_key TEXT NOT NULL DEFAULT '',
    sub_source TEXT,
    source_ref TEXT,
    code TEXT NOT NULL DEFAULT '',
    latitude DOUBLE PRECISION,
    longitude DOUBLE PRECISION,
    altitude DOUBLE PRECISION,
    geom {{blob}},
    simplified_geom {{blob}},
    catchment {{blob}},
    min_lon DOUBLE PRECISION,
    min_lat DOUBLE PRECISION,
    max_lon DOUBLE PRECISION,
    max_lat DOUBLE PRECISION,
    gps_source TEXT,
    opening_date {{date}},
    closed_date {{date}},
    extra_fields {{json}},
    default_image_id BIGINT,
    creator_id BIGINT REFERENCES users (id) ON DELETE SET NULL,
    source_created_at {{ts}},
    created_at {{ts}} NOT NULL,
    updated_at {{ts}} NOT NULL
);
CREATE UNIQUE INDEX org_units_path ON org_units (path);
CREATE INDEX org_units_parent ON org_units (parent_id, name_key);
-- Paged lists: version and status first, then the sort key (name by default, or id). The
-- name index also covers text search (name and aliases), so counting matches reads no rows.
CREATE INDEX org_units_version_name ON org_units (version_id, validation_status, name_key, id, aliases_key);
CREATE INDEX org_units_version_id ON org_units (version_id, validation_status, id);
CREATE INDEX org_units_version_type ON org_units (version_id, org_unit_type_id);
CREATE INDEX org_units_version_depth ON org_units (version_id, depth);
CREATE INDEX org_units_version_updated ON org_units (version_id, updated_at);
CREATE INDEX org_units_source_ref ON org_units (version_id, source_ref);
CREATE INDEX org_units_uuid ON org_units (version_id, uuid);
CREATE INDEX org_units_bbox ON org_units (version_id, min_lon, max_lon, min_lat, max_lat);
CREATE UNIQUE INDEX org_units_valid_code ON org_units (version_id, code)
    WHERE code <> '' AND validation_status = 'VALID';

-- Units removed for good (their version deleted), for the mobile delta sync.
CREATE TABLE org_unit_tombstones (
    org_unit_id BIGINT NOT NULL,
    version_id BIGINT NOT NULL,
    deleted_at {{ts}} NOT NULL
);
CREATE INDEX org_unit_tombstones_version ON org_unit_tombstones (version_id, deleted_at);

CREATE TABLE groups (
    id {{pk}},
    source_version_id BIGINT NOT NULL REFERENCES source_versions (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    source_ref TEXT,
    block_of_countries BOOLEAN NOT NULL DEFAULT FALSE,
    created_at {{ts}} NOT NULL,
    updated_at {{ts}} NOT NULL
);
CREATE INDEX groups_version ON groups (source_version_id);

-- Memberships; a group and its units always share a version (checked by the application).
CREATE TABLE group_org_units (
    group_id BIGINT NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    org_unit_id BIGINT NOT NULL REFERENCES org_units (id) ON DELETE CASCADE,
    PRIMARY KEY (group_id, org_unit_id)
);
CREATE INDEX group_org_units_unit ON group_org_units (org_unit_id);

CREATE TABLE group_sets (
    id {{pk}},
    source_version_id BIGINT NOT NULL REFERENCES source_versions (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    source_ref TEXT,
    -- SINGLE or MULTIPLE: may a unit belong to one or several groups of the set.
    group_belonging TEXT NOT NULL DEFAULT 'SINGLE',
    created_at {{ts}} NOT NULL,
    updated_at {{ts}} NOT NULL
);
CREATE INDEX group_sets_version ON group_sets (source_version_id);

CREATE TABLE group_set_groups (
    group_set_id BIGINT NOT NULL REFERENCES group_sets (id) ON DELETE CASCADE,
    group_id BIGINT NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    PRIMARY KEY (group_set_id, group_id)
);
CREATE INDEX group_set_groups_group ON group_set_groups (group_id);

-- Audit: one row per create/update/delete, with the object before and after in Django's
-- serializer format ([{"model": "iaso.orgunit", "pk": 1, "fields": {...}}]).
CREATE TABLE modifications (
    id {{pk}},
    account_id BIGINT REFERENCES accounts (id) ON DELETE CASCADE,
    -- "app_label.model", e.g. iaso.orgunit, iaso.instance, iaso.form.
    content_type TEXT NOT NULL,
    object_id TEXT NOT NULL,
    past_value {{json}} NOT NULL,
    new_value {{json}} NOT NULL,
    source TEXT NOT NULL,
    user_id BIGINT REFERENCES users (id) ON DELETE SET NULL,
    org_unit_change_request_id BIGINT,
    created_at {{ts}} NOT NULL
);
CREATE INDEX modifications_object ON modifications (content_type, object_id, created_at);
CREATE INDEX modifications_account ON modifications (account_id, created_at);

-- Profiles restricted to sub-trees: such users see and edit only inside them.
CREATE TABLE profile_org_units (
    profile_id BIGINT NOT NULL REFERENCES profiles (id) ON DELETE CASCADE,
    org_unit_id BIGINT NOT NULL REFERENCES org_units (id) ON DELETE CASCADE,
    PRIMARY KEY (profile_id, org_unit_id)
);
CREATE INDEX profile_org_units_unit ON profile_org_units (org_unit_id);

-- Org unit types a profile (or a role) may create and edit; none = all.
CREATE TABLE profile_editable_org_unit_types (
    profile_id BIGINT NOT NULL REFERENCES profiles (id) ON DELETE CASCADE,
    org_unit_type_id BIGINT NOT NULL REFERENCES org_unit_types (id) ON DELETE CASCADE,
    PRIMARY KEY (profile_id, org_unit_type_id)
);

CREATE TABLE user_role_editable_org_unit_types (
    user_role_id BIGINT NOT NULL REFERENCES user_roles (id) ON DELETE CASCADE,
    org_unit_type_id BIGINT NOT NULL REFERENCES org_unit_types (id) ON DELETE CASCADE,
    PRIMARY KEY (user_role_id, org_unit_type_id)
);
