//! Settings from defaults, an optional TOML file and the environment.

use anyhow::Context;
use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use iaso_api::Settings;
use std::path::Path;

/// Setting names that may come from `IASO_<NAME>` environment variables.
const ENV_KEYS: &[&str] = &[
    "database_url",
    "bind",
    "secret_key",
    "data_dir",
    "access_token_lifetime",
    "refresh_token_lifetime",
    "session_lifetime",
    "max_body_bytes",
    "environment",
    "deployed_on",
    "deployed_by",
    "public_url",
    "mail_mode",
    "mail_folder",
    "smtp_url",
    "mail_from",
    "login_max_failures",
    "login_lockout",
    "db_max_connections",
    "app_title",
    "logo_url",
    "favicon_url",
    "theme_primary_color",
    "theme_secondary_color",
    "theme_primary_background_color",
    "show_name_with_logo",
    "files_backend",
    "files_dir",
    "s3_bucket",
    "s3_endpoint",
    "s3_region",
    "s3_access_key_id",
    "s3_secret_access_key",
    "s3_prefix",
    "s3_allow_http",
    "serve_worker",
    "worker_concurrency",
    "task_lease",
    "task_poll_interval",
];

pub fn load(file: Option<&Path>) -> anyhow::Result<Settings> {
    let mut figment = Figment::new().merge(Serialized::defaults(DefaultsView::default()));
    match file {
        Some(path) => {
            anyhow::ensure!(
                path.exists(),
                "the settings file {} does not exist",
                path.display()
            );
            figment = figment.merge(Toml::file(path));
        }
        None if Path::new("iaso.toml").exists() => figment = figment.merge(Toml::file("iaso.toml")),
        None => {}
    }
    figment = figment.merge(Env::prefixed("IASO_").only(ENV_KEYS)).merge(
        Env::raw()
            .only(&["DATABASE_URL"])
            .map(|_| "database_url".into()),
    );
    let mut settings: Settings = figment.extract().context("invalid settings")?;
    settings
        .check_theme()
        .map_err(|e| anyhow::anyhow!("invalid settings: {e}"))?;
    settings.secret_key = secret_key(&settings)?;
    Ok(settings)
}

/// The configured secret key, or one generated once and kept in the data folder so that
/// tokens survive restarts.
fn secret_key(settings: &Settings) -> anyhow::Result<String> {
    if !settings.secret_key.trim().is_empty() {
        anyhow::ensure!(
            settings.secret_key.len() >= 32,
            "IASO_SECRET_KEY must be at least 32 characters long"
        );
        return Ok(settings.secret_key.clone());
    }
    let path = settings.data_dir.join("secret_key");
    if let Ok(existing) = std::fs::read_to_string(&path) {
        if existing.trim().len() >= 32 {
            return Ok(existing.trim().to_string());
        }
    }
    std::fs::create_dir_all(&settings.data_dir).with_context(|| {
        format!(
            "cannot create the data folder {}",
            settings.data_dir.display()
        )
    })?;
    let key = iaso_domain::password::random_token(32);
    write_private(&path, &key).with_context(|| format!("cannot write {}", path.display()))?;
    tracing::info!(path = %path.display(), "generated a secret key (set IASO_SECRET_KEY to choose one)");
    Ok(key)
}

#[cfg(unix)]
fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(contents.as_bytes())
}

#[cfg(not(unix))]
fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    std::fs::write(path, contents)
}

/// The defaults in a serialisable form (Settings itself only deserialises).
#[derive(serde::Serialize)]
struct DefaultsView {
    database_url: String,
    bind: String,
    secret_key: String,
    data_dir: String,
    access_token_lifetime: u64,
    refresh_token_lifetime: u64,
    session_lifetime: u64,
    max_body_bytes: usize,
    environment: String,
    public_url: String,
    mail_mode: String,
    mail_from: String,
    login_max_failures: i64,
    login_lockout: i64,
    db_max_connections: u32,
    app_title: String,
    logo_url: String,
    favicon_url: String,
    theme_primary_color: String,
    theme_secondary_color: String,
    theme_primary_background_color: String,
    show_name_with_logo: bool,
    files_backend: String,
    s3_bucket: String,
    s3_endpoint: String,
    s3_region: String,
    s3_access_key_id: String,
    s3_secret_access_key: String,
    s3_prefix: String,
    s3_allow_http: bool,
    serve_worker: bool,
    worker_concurrency: usize,
    task_lease: u64,
    task_poll_interval: u64,
}

impl Default for DefaultsView {
    fn default() -> Self {
        let d = Settings::default();
        DefaultsView {
            database_url: d.database_url,
            bind: d.bind.to_string(),
            secret_key: d.secret_key,
            data_dir: d.data_dir.display().to_string(),
            access_token_lifetime: d.access_token_lifetime,
            refresh_token_lifetime: d.refresh_token_lifetime,
            session_lifetime: d.session_lifetime,
            max_body_bytes: d.max_body_bytes,
            environment: d.environment,
            public_url: d.public_url,
            mail_mode: d.mail_mode,
            mail_from: d.mail_from,
            login_max_failures: d.login_max_failures,
            login_lockout: d.login_lockout,
            db_max_connections: d.db_max_connections,
            app_title: d.app_title,
            logo_url: d.logo_url,
            favicon_url: d.favicon_url,
            theme_primary_color: d.theme_primary_color,
            theme_secondary_color: d.theme_secondary_color,
            theme_primary_background_color: d.theme_primary_background_color,
            show_name_with_logo: d.show_name_with_logo,
            files_backend: d.files_backend,
            s3_bucket: d.s3_bucket,
            s3_endpoint: d.s3_endpoint,
            s3_region: d.s3_region,
            s3_access_key_id: d.s3_access_key_id,
            s3_secret_access_key: d.s3_secret_access_key,
            s3_prefix: d.s3_prefix,
            s3_allow_http: d.s3_allow_http,
            serve_worker: d.serve_worker,
            worker_concurrency: d.worker_concurrency,
            task_lease: d.task_lease,
            task_poll_interval: d.task_poll_interval,
        }
    }
}

pub fn default_toml() -> String {
    let d = DefaultsView::default();
    format!(
        "# iaso settings. Every key can also be set as IASO_<KEY> in the environment.\n\
         # Empty database_url: a SQLite file in data_dir. PostgreSQL: postgres://user:password@host:5432/db\n\
         database_url = \"\"\n\
         bind = \"{}\"\n\
         # Empty: generated once and kept in data_dir/secret_key.\n\
         secret_key = \"\"\n\
         data_dir = \"{}\"\n\
         # Token and session lifetimes, in seconds.\n\
         access_token_lifetime = {}\n\
         refresh_token_lifetime = {}\n\
         session_lifetime = {}\n\
         # Largest request body, in bytes.\n\
         max_body_bytes = {}\n\
         environment = \"{}\"\n\
         # Base URL used in links sent by e-mail.\n\
         public_url = \"{}\"\n\
         # Mail: \"log\", \"folder\" (mail_folder = \"...\") or \"smtp\" (smtp_url = \"smtps://user:pass@host:465\").\n\
         mail_mode = \"{}\"\n\
         mail_from = \"{}\"\n\
         # Failed logins before a username is locked, and lock duration in seconds.\n\
         login_max_failures = {}\n\
         login_lockout = {}\n\
         db_max_connections = {}\n\
         # Dashboard theme: title, logo and favicon URLs (empty: built-in), colours.\n\
         app_title = \"{}\"\n\
         logo_url = \"{}\"\n\
         favicon_url = \"{}\"\n\
         theme_primary_color = \"{}\"\n\
         theme_secondary_color = \"{}\"\n\
         theme_primary_background_color = \"{}\"\n\
         show_name_with_logo = {}\n\
         # Files of tasks (uploads, exports): \"local\" (files_dir = \"...\", default <data_dir>/files)\n\
         # or \"s3\" (any S3-compatible service; empty credentials: the AWS_* environment variables).\n\
         files_backend = \"{}\"\n\
         s3_bucket = \"\"\n\
         s3_endpoint = \"\"\n\
         s3_region = \"{}\"\n\
         s3_access_key_id = \"\"\n\
         s3_secret_access_key = \"\"\n\
         s3_prefix = \"\"\n\
         s3_allow_http = {}\n\
         # Background tasks: `iaso serve` runs a worker too unless serve_worker = false (or --no-worker).\n\
         serve_worker = {}\n\
         worker_concurrency = {}\n\
         # Seconds a silent worker keeps its task before another worker retries it.\n\
         task_lease = {}\n\
         # Longest wait, in seconds, between two looks at the queue without a wake-up.\n\
         task_poll_interval = {}\n",
        d.bind, d.data_dir, d.access_token_lifetime, d.refresh_token_lifetime, d.session_lifetime, d.max_body_bytes,
        d.environment, d.public_url, d.mail_mode, d.mail_from, d.login_max_failures, d.login_lockout,
        d.db_max_connections, d.app_title, d.logo_url, d.favicon_url, d.theme_primary_color,
        d.theme_secondary_color, d.theme_primary_background_color, d.show_name_with_logo,
        d.files_backend, d.s3_region, d.s3_allow_http, d.serve_worker,
        d.worker_concurrency, d.task_lease, d.task_poll_interval
    )
}
