//! `serve --demo`: a demo account, project and user on an empty database.

use iaso_api::Settings;
use iaso_domain::password::{random_token, HashCost, PasswordHasher};
use iaso_domain::Module;
use iaso_store::setup::NewAccount;
use iaso_store::users::NewUser;
use iaso_store::Store;

pub const DEMO_USERNAME: &str = "demo";

pub async fn seed(store: &Store, settings: &Settings) -> anyhow::Result<()> {
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
    println!(
        "Demo account created. Log in at http://{} as {DEMO_USERNAME} with password {password}\n\
         (project app_id: demo; token: curl -X POST http://{}/api/token/ -H 'Content-Type: application/json' \
         -d '{{\"username\":\"{DEMO_USERNAME}\",\"password\":\"{password}\"}}')",
        settings.bind, settings.bind
    );
    let _ = result;
    Ok(())
}
