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
    seed_forms(store, settings, &result)
        .await
        .map_err(|e| anyhow::anyhow!("cannot create the demo form: {e}"))?;
    Ok(())
}

/// `iaso demo`: seeds the configured database and exits.
pub async fn run(settings: Settings, args: DemoArgs) -> anyhow::Result<()> {
    let store = super::open_store(&settings).await?;
    seed(&store, &settings, &args).await?;
    store.db().close().await;
    Ok(())
}

/// The demo form (a few choices, a group, a repeat, a photo) as a one-file CSV XLSForm.
pub const DEMO_FORM: &str = "survey,,,,
,type,name,label,required
,text,site_name,Name of the site,yes
,integer,visitors,Visitors today,
,select_one yes_no,open,Is the site open?,
,select_one level,level,Level,
,geopoint,gps,Location,
,begin_repeat,rooms,Rooms,
,text,room_name,Room name,
,integer,beds,Beds,
,end_repeat,,,
,image,photo,Photo of the site,
choices,,,,
,list_name,name,label,
,yes_no,yes,Yes,
,yes_no,no,No,
,level,primary,Primary,
,level,secondary,Secondary,
,level,tertiary,Tertiary,
settings,,,,
,form_title,form_id,version,
,Site visit,site_visit,2024010101,
";

/// A demo form linked to the demo project, its version, and a few submissions (one with a
/// photo), so that a newcomer sees data at once.
async fn seed_forms(
    store: &Store,
    settings: &Settings,
    setup: &iaso_store::setup::SetupResult,
) -> anyhow::Result<()> {
    use iaso_store::forms::{FormChanges, NewFormVersion};
    use iaso_store::instances::{NewInstanceFile, UploadContext, UploadKey, XmlUpload};
    let files =
        iaso_files::FileStore::from_settings(&settings.file_settings(), &settings.data_dir)?;
    let account = setup.account.id;
    let form = store
        .create_form(
            account,
            &FormChanges {
                name: Some("Site visit".into()),
                project_ids: Some(vec![setup.project_id.get()]),
                location_field: Some(Some("gps".into())),
                ..Default::default()
            },
            Some(setup.user.id),
        )
        .await?;
    let conv = iaso_xlsform::convert(DEMO_FORM.as_bytes(), "site_visit.csv", &Default::default())
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let version = conv
        .meta
        .version
        .clone()
        .unwrap_or_else(|| "2024010101".into());
    let xform = iaso_api::routes::form_versions::ensure_xform_version(
        &conv.xform,
        &conv.meta.form_id,
        &version,
    );
    let xml_key = format!("forms/{}/site_visit_{version}.xml", form.id);
    let xls_key = format!("forms/{}/site_visit_{version}.csv", form.id);
    files.put(&xml_key, xform.clone().into_bytes()).await?;
    files.put(&xls_key, DEMO_FORM.as_bytes()).await?;
    store
        .create_form_version(
            account,
            &NewFormVersion {
                form_id: form.id,
                version_id: version.clone(),
                xform_id: conv.meta.form_id.clone(),
                file: xml_key,
                file_size: xform.len() as i64,
                md5: iaso_ingest::md5_hex(xform.as_bytes()),
                xls_file: Some(xls_key),
                xls_file_size: Some(DEMO_FORM.len() as i64),
                descriptor: iaso_api::routes::form_versions::iaso_descriptor(&conv.meta, &version),
                start_period: None,
                end_period: None,
                user: Some(setup.user.id),
            },
        )
        .await?;
    let sites = [
        (
            "Central clinic",
            "34",
            "yes",
            "secondary",
            "-4.3217 15.3126 280 5",
        ),
        ("River post", "7", "yes", "primary", "-4.4001 15.2502 301 8"),
        (
            "Hill hospital",
            "120",
            "no",
            "tertiary",
            "-4.2870 15.2900 350 4",
        ),
    ];
    for (n, (name, visitors, open, level, gps)) in sites.iter().enumerate() {
        let id = uuid::Uuid::new_v4();
        let xml = format!(
            "<?xml version=\"1.0\"?><data id=\"site_visit\" version=\"{version}\"><site_name>{name}</site_name>\
             <visitors>{visitors}</visitors><open>{open}</open><level>{level}</level><gps>{gps}</gps>\
             <rooms><room_name>Consultation</room_name><beds>2</beds></rooms><rooms><room_name>Maternity</room_name><beds>{n}</beds></rooms>\
             <photo>{}</photo><meta><instanceID>uuid:{id}</instanceID></meta></data>",
            if n == 0 { "site.png" } else { "" }
        );
        let parsed =
            iaso_domain::submission::parse(xml.as_bytes()).map_err(|e| anyhow::anyhow!("{e}"))?;
        let key = format!("instances/demo/{id}.xml");
        files.put(&key, xml.clone().into_bytes()).await?;
        let mut media = Vec::new();
        if n == 0 {
            let png = demo_png();
            let k = format!("instances/demo/{id}_site.png");
            files.put(&k, png.clone()).await?;
            media.push(NewInstanceFile {
                name: "site.png".into(),
                file: k,
                size: png.len() as i64,
                md5: iaso_ingest::md5_hex(&png),
            });
        }
        store
            .ingest_xml(
                UploadContext {
                    account: Some(account),
                    project: Some(setup.project_id.get()),
                    user: Some(setup.user.id),
                },
                &XmlUpload {
                    key: UploadKey::InstanceId(format!("uuid:{id}")),
                    file_name: format!("{id}.xml"),
                    file: key,
                    file_size: xml.len() as i64,
                    md5: iaso_ingest::md5_hex(xml.as_bytes()),
                    submission: &parsed,
                    media,
                    source: "demo",
                    source_updated_at: None,
                },
            )
            .await?;
    }
    println!(
        "Demo: form \"Site visit\" (form id {}) with 3 submissions.",
        form.id
    );
    Ok(())
}

/// A 1x1 PNG.
fn demo_png() -> Vec<u8> {
    vec![
        0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x48, 0x44,
        0x52, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1F,
        0x15, 0xC4, 0x89, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9C, 0x63, 0xF8,
        0xCF, 0xC0, 0xF0, 0x1F, 0x00, 0x05, 0x00, 0x01, 0xFF, 0x89, 0x99, 0x3D, 0x1D, 0x00, 0x00,
        0x00, 0x00, 0x49, 0x45, 0x4E, 0x44, 0xAE, 0x42, 0x60, 0x82,
    ]
}
