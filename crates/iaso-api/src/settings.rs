//! Server settings. The CLI fills them from defaults, an optional TOML file and `IASO_*`
//! environment variables (plus `DATABASE_URL`); tests build them directly.

use iaso_domain::password::HashCost;
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::PathBuf;

#[derive(Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// `sqlite:PATH` (default: a file in the data folder) or `postgres://...`.
    pub database_url: String,
    /// Address `iaso serve` listens on.
    pub bind: SocketAddr,
    /// Key that signs tokens. Empty: generated once and kept in the data folder.
    pub secret_key: String,
    /// Folder for the SQLite file, uploads, exports and the generated secret key.
    pub data_dir: PathBuf,
    /// Lifetime of access tokens, in seconds.
    pub access_token_lifetime: u64,
    /// Lifetime of refresh tokens, in seconds.
    pub refresh_token_lifetime: u64,
    /// Lifetime of browser sessions, in seconds.
    pub session_lifetime: u64,
    /// Largest accepted request body, in bytes (larger: 413).
    pub max_body_bytes: usize,
    /// Shown by `/_health/` (e.g. "production", "staging").
    pub environment: String,
    /// Shown by `/_health/`: when and by whom this build was deployed.
    pub deployed_on: Option<String>,
    pub deployed_by: Option<String>,
    /// Public base URL, used in links sent by e-mail (password reset).
    pub public_url: String,
    /// Where mails go: "log" (default), "folder" (one .eml file each in `mail_folder`) or
    /// "smtp" (`smtp_url`, e.g. `smtps://user:pass@smtp.example.org:465`).
    pub mail_mode: String,
    pub mail_folder: Option<PathBuf>,
    pub smtp_url: Option<String>,
    pub mail_from: String,
    /// Failed logins before a username is locked, and for how long (seconds).
    pub login_max_failures: i64,
    pub login_lockout: i64,
    /// argon2id cost; "fast" only for tests.
    #[serde(skip)]
    pub hash_cost: Option<HashCost>,
    /// Database pool size.
    pub db_max_connections: u32,
    /// Dashboard theme: the name in the browser tab and the top bar.
    pub app_title: String,
    /// Dashboard theme: logo and favicon URLs (absolute, or a path on this server); empty for
    /// the built-in ones.
    pub logo_url: String,
    pub favicon_url: String,
    /// Dashboard theme colours, `#rrggbb`.
    pub theme_primary_color: String,
    pub theme_secondary_color: String,
    pub theme_primary_background_color: String,
    /// Show the application name next to the logo.
    pub show_name_with_logo: bool,
    /// Where task inputs and results are kept: "local" (a folder, `files_dir` or
    /// `<data_dir>/files`) or "s3" (an S3-compatible bucket, the `s3_*` settings).
    pub files_backend: String,
    pub files_dir: Option<PathBuf>,
    pub s3_bucket: String,
    /// Endpoint of an S3-compatible service (MinIO, Garage...); empty for AWS itself.
    pub s3_endpoint: String,
    pub s3_region: String,
    /// Empty: the usual AWS_* environment variables are used.
    pub s3_access_key_id: String,
    pub s3_secret_access_key: String,
    pub s3_prefix: String,
    pub s3_allow_http: bool,
    /// Run a task worker inside `iaso serve` (`--no-worker` turns it off).
    pub serve_worker: bool,
    /// Tasks a worker runs at the same time.
    pub worker_concurrency: usize,
    /// Seconds a worker may stay silent before its task is given to another worker.
    pub task_lease: u64,
    /// Longest wait, in seconds, between two looks at the queue when no wake-up arrives (a
    /// separate `iaso worker` on SQLite relies on it).
    pub task_poll_interval: u64,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            database_url: String::new(),
            bind: SocketAddr::from(([127, 0, 0, 1], 8081)),
            secret_key: String::new(),
            data_dir: PathBuf::from("data"),
            access_token_lifetime: 24 * 3600,
            refresh_token_lifetime: 30 * 24 * 3600,
            session_lifetime: 14 * 24 * 3600,
            max_body_bytes: 100 * 1024 * 1024,
            environment: "development".into(),
            deployed_on: None,
            deployed_by: None,
            public_url: "http://127.0.0.1:8081".into(),
            mail_mode: "log".into(),
            mail_folder: None,
            smtp_url: None,
            mail_from: "iaso@localhost".into(),
            login_max_failures: 10,
            login_lockout: 30,
            hash_cost: None,
            db_max_connections: 10,
            app_title: "Iaso".into(),
            logo_url: String::new(),
            favicon_url: String::new(),
            theme_primary_color: "#006699".into(),
            theme_secondary_color: "#ff7961".into(),
            theme_primary_background_color: "#f5f5f5".into(),
            show_name_with_logo: true,
            files_backend: "local".into(),
            files_dir: None,
            s3_bucket: String::new(),
            s3_endpoint: String::new(),
            s3_region: "us-east-1".into(),
            s3_access_key_id: String::new(),
            s3_secret_access_key: String::new(),
            s3_prefix: String::new(),
            s3_allow_http: false,
            serve_worker: true,
            worker_concurrency: 2,
            task_lease: 60,
            task_poll_interval: 5,
        }
    }
}

impl std::fmt::Debug for Settings {
    // The secret key and the database password never reach logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("database_url", &redact_url(&self.database_url))
            .field("bind", &self.bind)
            .field("data_dir", &self.data_dir)
            .field("environment", &self.environment)
            .field("mail_mode", &self.mail_mode)
            .field("files_backend", &self.files_backend)
            .finish_non_exhaustive()
    }
}

/// The URL with its password replaced by `***`.
pub fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        _ => url.to_string(),
    }
}

/// Whether `c` is a CSS hex colour (`#rgb`, `#rrggbb` or with alpha).
pub fn valid_hex_color(c: &str) -> bool {
    let Some(hex) = c.strip_prefix('#') else {
        return false;
    };
    matches!(hex.len(), 3 | 4 | 6 | 8) && hex.chars().all(|ch| ch.is_ascii_hexdigit())
}

impl Settings {
    /// Checks the dashboard theme settings (colours must be hex, URLs free of quotes and angle
    /// brackets since they end up in HTML attributes).
    pub fn check_theme(&self) -> Result<(), String> {
        for (name, value) in [
            ("theme_primary_color", &self.theme_primary_color),
            ("theme_secondary_color", &self.theme_secondary_color),
            (
                "theme_primary_background_color",
                &self.theme_primary_background_color,
            ),
        ] {
            if !valid_hex_color(value) {
                return Err(format!(
                    "{name} must be a hex colour like #006699, not {value:?}"
                ));
            }
        }
        for (name, value) in [
            ("logo_url", &self.logo_url),
            ("favicon_url", &self.favicon_url),
        ] {
            if value
                .chars()
                .any(|c| matches!(c, '"' | '\'' | '<' | '>') || c.is_whitespace())
            {
                return Err(format!("{name} must be a plain URL, not {value:?}"));
            }
        }
        Ok(())
    }

    /// The file storage part of the settings.
    pub fn file_settings(&self) -> iaso_tasks::FileSettings {
        iaso_tasks::FileSettings {
            backend: self.files_backend.clone(),
            local_dir: self.files_dir.clone(),
            s3_bucket: self.s3_bucket.clone(),
            s3_endpoint: self.s3_endpoint.clone(),
            s3_region: self.s3_region.clone(),
            s3_access_key_id: self.s3_access_key_id.clone(),
            s3_secret_access_key: self.s3_secret_access_key.clone(),
            s3_prefix: self.s3_prefix.clone(),
            s3_allow_http: self.s3_allow_http,
        }
    }

    /// Worker behaviour from the settings (the rest keeps its defaults).
    pub fn worker_config(&self) -> iaso_tasks::WorkerConfig {
        iaso_tasks::WorkerConfig {
            concurrency: self.worker_concurrency.max(1),
            lease: std::time::Duration::from_secs(self.task_lease.max(5)),
            poll_interval: std::time::Duration::from_secs(self.task_poll_interval.max(1)),
            ..iaso_tasks::WorkerConfig::default()
        }
    }

    /// The default SQLite file inside the data folder.
    pub fn default_database_url(&self) -> String {
        format!("sqlite:{}", self.data_dir.join("iaso.sqlite3").display())
    }

    pub fn effective_database_url(&self) -> String {
        if self.database_url.trim().is_empty() {
            self.default_database_url()
        } else {
            self.database_url.clone()
        }
    }
}
