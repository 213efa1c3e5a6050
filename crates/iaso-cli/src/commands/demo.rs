//! `iaso demo` and `serve --demo`: a demo account, project and user, and a synthetic country
//! (see `country.rs`) in the account's default version.

use crate::country::{generate, CountrySpec};
use clap::Args;
use iaso_api::Settings;
use iaso_domain::password::{random_token, HashCost, PasswordHasher};
use iaso_domain::Module;
use iaso_store::setup::NewAccount;
use iaso_store::users::NewUser;
use iaso_store::Store;

pub const DEMO_USERNAME: &str = "demo";

#[derive(Args, Clone)]
pub struct DemoArgs {
    /// Number of org units of the synthetic country.
    #[arg(long, default_value_t = 100_000)]
    pub units: usize,
    /// Seed of the generator (same seed, same country).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Do not create version 2 of the source (the copy with differences).
    #[arg(long)]
    pub no_second_version: bool,
}

/// On an empty database: the demo account and its country. Otherwise nothing.
pub async fn seed(store: &Store, settings: &Settings, args: &DemoArgs) -> anyhow::Result<()> {
    if store
        .count_accounts()
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?
        > 0
    {
        println!("Demo: the database already has accounts; nothing created.");
        return Ok(());
    }
    let password = std::env::var("IASO_DEMO_PASSWORD")
        .unwrap_or_else(|_| format!("demo-{}", &random_token(6)));
    let hasher = PasswordHasher::new(HashCost::Standard);
    let result = store
        .setup_account(&NewAccount {
            account_name: "Demo".into(),
            user: NewUser {
                username: DEMO_USERNAME.into(),
                password_hash: hasher.hash(&password),
                email: "demo@example.org".into(),
                first_name: "Demo".into(),
                last_name: "User".into(),
                ..Default::default()
            },
            modules: Module::ALL.to_vec(),
            language: Some("en".into()),
        })
        .await
        .map_err(|e| anyhow::anyhow!("cannot create the demo account: {e}"))?;
    let version = result
        .account
        .default_version_id
        .ok_or_else(|| anyhow::anyhow!("the demo account has no default version"))?;
    let source = store
        .version(result.account.id, version)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?
        .data_source_id;
    println!(
        "Demo: generating a synthetic country of {} org units...",
        args.units
    );
    let report = generate(
        store,
        result.account.id,
        result.project_id,
        source,
        version,
        &CountrySpec {
            units: args.units,
            seed: args.seed,
            second_version: !args.no_second_version,
        },
    )
    .await?;
    println!(
        "Demo: {} org units (1 country, {} regions, {} districts, {} health areas, {} facilities) in {:.1} s{}.",
        report.units,
        report.levels[1],
        report.levels[2],
        report.levels[3],
        report.levels[4],
        report.seconds,
        if report.second_version.is_some() { ", plus version 2 with differences" } else { "" }
    );
    println!(
        "Demo account created. Log in at http://{} as {DEMO_USERNAME} with password {password}\n\
         (project app_id: demo; data source: Demo; token: curl -X POST http://{}/api/token/ -H 'Content-Type: application/json' \
         -d '{{\"username\":\"{DEMO_USERNAME}\",\"password\":\"{password}\"}}')",
        settings.bind, settings.bind
    );
    Ok(())
}

/// `iaso demo`: seeds the configured database and exits.
pub async fn run(settings: Settings, args: DemoArgs) -> anyhow::Result<()> {
    let store = super::open_store(&settings).await?;
    seed(&store, &settings, &args).await?;
    store.db().close().await;
    Ok(())
}
