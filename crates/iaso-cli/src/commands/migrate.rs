use iaso_api::Settings;

pub async fn run(settings: Settings) -> anyhow::Result<()> {
    let url = settings.effective_database_url();
    let db = iaso_db::Db::connect(&url, &Default::default()).await?;
    let report = iaso_store::migrations::run(&db).await?;
    if report.applied.is_empty() {
        println!(
            "The database is up to date ({} migrations).",
            report.already
        );
    } else {
        for (version, name) in &report.applied {
            println!("applied migration {version:04} {name}");
        }
        println!(
            "{} migration(s) applied, {} already present.",
            report.applied.len(),
            report.already
        );
    }
    db.close().await;
    Ok(())
}
