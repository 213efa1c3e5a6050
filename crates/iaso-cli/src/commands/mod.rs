pub mod bench;
pub mod demo;
pub mod migrate;
pub mod serve;
pub mod superuser;
pub mod worker;
pub mod xlsform;

use anyhow::Context;
use iaso_api::Settings;
use iaso_store::{DbOptions, Store};

/// Opens the database named by the settings and applies pending migrations.
pub async fn open_store(settings: &Settings) -> anyhow::Result<Store> {
    let url = settings.effective_database_url();
    let options = DbOptions {
        max_connections: settings.db_max_connections,
        ..DbOptions::default()
    };
    Store::open(&url, &options).await.with_context(|| {
        format!(
            "cannot open the database {}",
            iaso_api::settings::redact_url(&url)
        )
    })
}
