-- Accounts, logins, profiles, roles, projects and the mobile feature-flag catalogue.
-- Timestamps are always written by the application (UTC, microseconds).

CREATE TABLE accounts (
    id {{pk}},
    name TEXT NOT NULL UNIQUE,
    default_version_id BIGINT,
    modules {{json}} NOT NULL,
    feature_flags {{json}} NOT NULL,
    user_manual_path TEXT,
    forum_path TEXT,
    analytics_script TEXT,
    custom_translations {{json}},
    enforce_password_validation BOOLEAN NOT NULL DEFAULT TRUE,
    created_at {{ts}} NOT NULL,
    updated_at {{ts}} NOT NULL
);

CREATE TABLE users (
    id {{pk}},
    username TEXT NOT NULL,
    -- lower(username): logins are unique and matched case-insensitively.
    username_key TEXT NOT NULL UNIQUE,
    -- argon2id PHC string; '' means the password is unusable (invitation pending).
    password_hash TEXT NOT NULL,
    email TEXT NOT NULL DEFAULT '',
    first_name TEXT NOT NULL DEFAULT '',
    last_name TEXT NOT NULL DEFAULT '',
    is_active BOOLEAN NOT NULL DEFAULT TRUE,
    is_staff BOOLEAN NOT NULL DEFAULT FALSE,
    is_superuser BOOLEAN NOT NULL DEFAULT FALSE,
    token_version BIGINT NOT NULL DEFAULT 1,
    current_account_id BIGINT REFERENCES accounts (id) ON DELETE SET NULL,
    date_joined {{ts}} NOT NULL,
    last_login {{ts}},
    updated_at {{ts}} NOT NULL
);
CREATE INDEX users_email ON users (email);

CREATE TABLE profiles (
    id {{pk}},
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    account_id BIGINT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    language TEXT,
    organization TEXT,
    phone_number TEXT NOT NULL DEFAULT '',
    dhis2_id TEXT,
    home_page TEXT,
    color TEXT NOT NULL DEFAULT '#1976D2',
    external_user_id TEXT,
    created_at {{ts}} NOT NULL,
    updated_at {{ts}} NOT NULL,
    UNIQUE (user_id, account_id)
);
CREATE INDEX profiles_account ON profiles (account_id);
CREATE UNIQUE INDEX profiles_dhis2_id ON profiles (account_id, dhis2_id) WHERE dhis2_id IS NOT NULL;

CREATE TABLE profile_permissions (
    profile_id BIGINT NOT NULL REFERENCES profiles (id) ON DELETE CASCADE,
    permission TEXT NOT NULL,
    PRIMARY KEY (profile_id, permission)
);

CREATE TABLE user_roles (
    id {{pk}},
    account_id BIGINT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    name_key TEXT NOT NULL,
    created_at {{ts}} NOT NULL,
    updated_at {{ts}} NOT NULL,
    UNIQUE (account_id, name_key)
);

CREATE TABLE user_role_permissions (
    user_role_id BIGINT NOT NULL REFERENCES user_roles (id) ON DELETE CASCADE,
    permission TEXT NOT NULL,
    PRIMARY KEY (user_role_id, permission)
);

CREATE TABLE profile_user_roles (
    profile_id BIGINT NOT NULL REFERENCES profiles (id) ON DELETE CASCADE,
    user_role_id BIGINT NOT NULL REFERENCES user_roles (id) ON DELETE CASCADE,
    PRIMARY KEY (profile_id, user_role_id)
);
CREATE INDEX profile_user_roles_role ON profile_user_roles (user_role_id);

CREATE TABLE projects (
    id {{pk}},
    account_id BIGINT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    app_id TEXT NOT NULL UNIQUE,
    needs_authentication BOOLEAN NOT NULL DEFAULT FALSE,
    description TEXT NOT NULL DEFAULT '',
    color TEXT NOT NULL DEFAULT '#1976D2',
    min_version BIGINT,
    redirection_url TEXT,
    external_token TEXT,
    created_at {{ts}} NOT NULL,
    updated_at {{ts}} NOT NULL
);
CREATE INDEX projects_account ON projects (account_id);

CREATE TABLE profile_projects (
    profile_id BIGINT NOT NULL REFERENCES profiles (id) ON DELETE CASCADE,
    project_id BIGINT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    PRIMARY KEY (profile_id, project_id)
);
CREATE INDEX profile_projects_project ON profile_projects (project_id);

CREATE TABLE feature_flags (
    id {{pk}},
    code TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    requires_authentication BOOLEAN NOT NULL DEFAULT FALSE,
    category TEXT NOT NULL DEFAULT 'NA',
    display_order BIGINT NOT NULL DEFAULT 0,
    is_dangerous BOOLEAN NOT NULL DEFAULT FALSE,
    configuration_schema {{json}},
    created_at {{ts}} NOT NULL,
    updated_at {{ts}} NOT NULL
);

CREATE TABLE project_feature_flags (
    id {{pk}},
    project_id BIGINT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    feature_flag_id BIGINT NOT NULL REFERENCES feature_flags (id) ON DELETE CASCADE,
    configuration {{json}},
    UNIQUE (project_id, feature_flag_id)
);

-- Browser sessions: the cookie carries a random key, the table only its SHA-256.
CREATE TABLE sessions (
    key_hash TEXT PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    csrf_token TEXT NOT NULL,
    token_version BIGINT NOT NULL,
    created_at {{ts}} NOT NULL,
    expires_at {{ts}} NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);

-- Failed logins per username, shared by every server process (throttling).
CREATE TABLE login_failures (
    username_key TEXT PRIMARY KEY,
    failures BIGINT NOT NULL,
    first_failure_at {{ts}} NOT NULL,
    locked_until {{ts}}
);

CREATE TABLE password_reset_tokens (
    token_hash TEXT PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at {{ts}} NOT NULL,
    expires_at {{ts}} NOT NULL,
    used_at {{ts}}
);

INSERT INTO feature_flags (code, name, description, requires_authentication, category, display_order, is_dangerous, created_at, updated_at) VALUES
('REQUIRE_AUTHENTICATION', 'Require authentication', 'Mobile users must log in before using the app.', FALSE, 'DCO', 1, FALSE, '2020-01-01T00:00:00.000000Z', '2020-01-01T00:00:00.000000Z'),
('FORMS_AUTO_UPLOAD', 'Forms auto upload', 'Finalised forms are sent as soon as a connection is available.', FALSE, 'DCO', 2, FALSE, '2020-01-01T00:00:00.000000Z', '2020-01-01T00:00:00.000000Z'),
('TAKE_GPS_ON_FORM', 'Take GPS on form', 'Record the device position when a form is opened.', FALSE, 'DCO', 3, FALSE, '2020-01-01T00:00:00.000000Z', '2020-01-01T00:00:00.000000Z'),
('DATA_COLLECTION', 'Data collection', 'Show the data collection screens.', FALSE, 'DCO', 4, FALSE, '2020-01-01T00:00:00.000000Z', '2020-01-01T00:00:00.000000Z'),
('MOBILE_FINALIZED_FORM_ARE_READ', 'Finalized forms are read only', 'Finalised forms can no longer be edited on the device.', FALSE, 'DCO', 5, FALSE, '2020-01-01T00:00:00.000000Z', '2020-01-01T00:00:00.000000Z'),
('MOBILE_SUBMISSION_INCOMPLETE_BY_DEFAULT', 'Submissions incomplete by default', 'New submissions start as incomplete.', FALSE, 'DCO', 6, FALSE, '2020-01-01T00:00:00.000000Z', '2020-01-01T00:00:00.000000Z'),
('LIMIT_OU_DOWNLOAD_TO_ROOTS', 'Limit org unit download to roots', 'Download only the org units of the user''s own sub-trees.', TRUE, 'REO', 7, FALSE, '2020-01-01T00:00:00.000000Z', '2020-01-01T00:00:00.000000Z'),
('MOBILE_FORCE_OU_UPDATE', 'Force org unit update', 'The app must refresh its org units before collecting.', FALSE, 'REO', 8, FALSE, '2020-01-01T00:00:00.000000Z', '2020-01-01T00:00:00.000000Z'),
('MOBILE_FORCE_FORMS_UPDATE', 'Force forms update', 'The app must refresh its forms before collecting.', FALSE, 'REO', 9, FALSE, '2020-01-01T00:00:00.000000Z', '2020-01-01T00:00:00.000000Z'),
('MOBILE_CHECK_OU_UPDATE', 'Check org unit updates', 'The app checks for org unit changes at start.', FALSE, 'REO', 10, FALSE, '2020-01-01T00:00:00.000000Z', '2020-01-01T00:00:00.000000Z'),
('MOBILE_CHECK_FORMS_UPDATE', 'Check forms updates', 'The app checks for form changes at start.', FALSE, 'REO', 11, FALSE, '2020-01-01T00:00:00.000000Z', '2020-01-01T00:00:00.000000Z'),
('SHOW_DETAIL_MAP_ON_MOBILE', 'Show detail map on mobile', 'Show a map on org unit detail screens.', FALSE, 'GEO', 12, FALSE, '2020-01-01T00:00:00.000000Z', '2020-01-01T00:00:00.000000Z'),
('CHECK_POSITION_FOR_FORMS', 'Check position for forms', 'Warn when the device is far from the selected org unit.', FALSE, 'GEO', 13, FALSE, '2020-01-01T00:00:00.000000Z', '2020-01-01T00:00:00.000000Z'),
('MOBILE_SELECT_CLOSEST_ORG_UNIT', 'Select closest org unit', 'Pre-select the org unit nearest to the device.', FALSE, 'GEO', 14, FALSE, '2020-01-01T00:00:00.000000Z', '2020-01-01T00:00:00.000000Z'),
('MOBILE_CHANGE_REQUESTS_TAB', 'Change requests tab', 'Show org unit change requests in the app.', TRUE, 'DAV', 15, FALSE, '2020-01-01T00:00:00.000000Z', '2020-01-01T00:00:00.000000Z'),
('MOBILE_ORG_UNIT_REGISTRY', 'Org unit registry', 'Show the org unit registry in the app.', TRUE, 'DAV', 16, FALSE, '2020-01-01T00:00:00.000000Z', '2020-01-01T00:00:00.000000Z'),
('SHOW_LINK_INSTANCE_REFERENCE', 'Show link to reference submission', 'Show reference submissions of org units.', FALSE, 'DAV', 17, FALSE, '2020-01-01T00:00:00.000000Z', '2020-01-01T00:00:00.000000Z'),
('ENTITY', 'Entities', 'Show entities (beneficiaries) in the app.', TRUE, 'ENT', 18, FALSE, '2020-01-01T00:00:00.000000Z', '2020-01-01T00:00:00.000000Z'),
('MOBILE_ENTITY_NO_CREATION', 'No entity creation', 'Entities cannot be created on the device.', TRUE, 'ENT', 19, FALSE, '2020-01-01T00:00:00.000000Z', '2020-01-01T00:00:00.000000Z'),
('MOBILE_ENTITY_WARN_WHEN_FOUND', 'Warn when entity found', 'Warn when a searched entity already exists.', TRUE, 'ENT', 20, FALSE, '2020-01-01T00:00:00.000000Z', '2020-01-01T00:00:00.000000Z'),
('MOBILE_ENTITY_LIMITED_SEARCH', 'Limited entity search', 'Entity search is limited to exact matches.', TRUE, 'ENT', 21, FALSE, '2020-01-01T00:00:00.000000Z', '2020-01-01T00:00:00.000000Z'),
('WRITE_ON_NFC_CARDS', 'Write on NFC cards', 'Write entity data to NFC cards.', TRUE, 'ENT', 22, FALSE, '2020-01-01T00:00:00.000000Z', '2020-01-01T00:00:00.000000Z'),
('PLANNING', 'Planning', 'Show planning assignments in the app.', TRUE, 'PLA', 23, FALSE, '2020-01-01T00:00:00.000000Z', '2020-01-01T00:00:00.000000Z'),
('TRANSPORT_TRACKING', 'Transport tracking', 'Track transport of goods.', TRUE, 'SPO', 24, TRUE, '2020-01-01T00:00:00.000000Z', '2020-01-01T00:00:00.000000Z'),
('GPS_TRACKING', 'GPS tracking', 'Record the device position at intervals.', TRUE, 'SPO', 25, TRUE, '2020-01-01T00:00:00.000000Z', '2020-01-01T00:00:00.000000Z'),
('MOBILE_HIDE_CLOSED_ORG_UNIT', 'Hide closed org units', 'Closed org units are hidden in the app.', FALSE, 'SPO', 26, TRUE, '2020-01-01T00:00:00.000000Z', '2020-01-01T00:00:00.000000Z'),
('MOBILE_USE_ETHIOPIC_CALENDAR', 'Use Ethiopic calendar', 'Dates are shown in the Ethiopic calendar.', FALSE, 'SPO', 27, TRUE, '2020-01-01T00:00:00.000000Z', '2020-01-01T00:00:00.000000Z'),
('MOBILE_NO_ORG_UNIT', 'No org unit', 'Forms can be filled without choosing an org unit.', FALSE, 'SPO', 28, TRUE, '2020-01-01T00:00:00.000000Z', '2020-01-01T00:00:00.000000Z'),
('REPORTS', 'Reports', 'Show report files in the app.', TRUE, 'SPO', 29, TRUE, '2020-01-01T00:00:00.000000Z', '2020-01-01T00:00:00.000000Z'),
('MOBILE_ORG_UNIT_DEEP_SEARCH', 'Org unit deep search', 'Search org units in the whole tree.', FALSE, 'GEO', 30, FALSE, '2020-01-01T00:00:00.000000Z', '2020-01-01T00:00:00.000000Z'),
('INSTANT_EXPORT', 'Instant export', 'Export each submission to DHIS2 as soon as it is received.', FALSE, 'DCO', 31, FALSE, '2020-01-01T00:00:00.000000Z', '2020-01-01T00:00:00.000000Z'),
('MOBILE_SYNCHRONIZE_WITH_ZIP', 'Synchronize with zip', 'Upload submissions as one zip file.', FALSE, 'NA', 99, FALSE, '2020-01-01T00:00:00.000000Z', '2020-01-01T00:00:00.000000Z'),
('MOBILE_VALIDATION_WORKFLOW', 'Validation workflow', 'Show the submission validation workflow.', TRUE, 'NA', 99, FALSE, '2020-01-01T00:00:00.000000Z', '2020-01-01T00:00:00.000000Z');
