//! `iaso demo` and `serve --demo`: a demo account, project and user, and a synthetic country
//! (see `country.rs`) in the account's default version.

use crate::country::{generate, CountrySpec};
use clap::Args;
use iaso_api::Settings;
use iaso_domain::ids::{AccountId, SourceVersionId};
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
    seed_forms(store, settings, &result, version)
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

/// How many demo submissions `serve --demo` creates, spread over facilities of the country.
const DEMO_SUBMISSIONS: usize = 24;

/// A demo form linked to the demo project and the facility type, its version, and submissions
/// at facilities of the synthetic country (one with a photo), so that a newcomer sees data at
/// once in the lists and on the map.
async fn seed_forms(
    store: &Store,
    settings: &Settings,
    setup: &iaso_store::setup::SetupResult,
    version: SourceVersionId,
) -> anyhow::Result<()> {
    use iaso_store::forms::{FormChanges, NewFormVersion};
    let files =
        iaso_files::FileStore::from_settings(&settings.file_settings(), &settings.data_dir)?;
    let account = setup.account.id;
    let facilities = demo_facilities(store, account, version, DEMO_SUBMISSIONS).await?;
    let facility_type = facilities
        .first()
        .and_then(|f| f.org_unit_type.as_ref())
        .map(|t| t.id.get());
    let form = store
        .create_form(
            account,
            &FormChanges {
                name: Some("Site visit".into()),
                project_ids: Some(vec![setup.project_id.get()]),
                org_unit_type_ids: Some(facility_type.into_iter().collect()),
                location_field: Some(Some("gps".into())),
                ..Default::default()
            },
            Some(setup.user.id),
        )
        .await?;
    let conv = iaso_xlsform::convert(DEMO_FORM.as_bytes(), "site_visit.csv", &Default::default())
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let form_version = conv
        .meta
        .version
        .clone()
        .unwrap_or_else(|| "2024010101".into());
    let xform = iaso_api::routes::form_versions::ensure_xform_version(
        &conv.xform,
        &conv.meta.form_id,
        &form_version,
    );
    let xml_key = format!("forms/{}/site_visit_{form_version}.xml", form.id);
    let xls_key = format!("forms/{}/site_visit_{form_version}.csv", form.id);
    files.put(&xml_key, xform.clone().into_bytes()).await?;
    files.put(&xls_key, DEMO_FORM.as_bytes()).await?;
    store
        .create_form_version(
            account,
            &NewFormVersion {
                form_id: form.id,
                version_id: form_version.clone(),
                xform_id: conv.meta.form_id.clone(),
                file: xml_key,
                file_size: xform.len() as i64,
                md5: iaso_ingest::md5_hex(xform.as_bytes()),
                xls_file: Some(xls_key),
                xls_file_size: Some(DEMO_FORM.len() as i64),
                descriptor: iaso_api::routes::form_versions::iaso_descriptor(
                    &conv.meta,
                    &form_version,
                ),
                start_period: None,
                end_period: None,
                user: Some(setup.user.id),
            },
        )
        .await?;
    let visit = DemoVisit {
        store,
        files: &files,
        setup,
        form_id: form.id,
        form_version: &form_version,
    };
    for (n, unit) in facilities.iter().enumerate() {
        visit.submit(n, unit).await?;
    }
    println!(
        "Demo: form \"Site visit\" (form id {}) with {} submissions at facilities.",
        form.id,
        facilities.len()
    );
    Ok(())
}

/// Up to `n` located units of the deepest level, spread over the whole version (one every
/// `count / n` in id order, so that they fall in different regions): the deepest level from
/// one single-row page, the ids of that level in one query, the chosen units in one more.
async fn demo_facilities(
    store: &Store,
    account: AccountId,
    version: SourceVersionId,
    n: usize,
) -> anyhow::Result<Vec<iaso_store::org_units::OrgUnit>> {
    use iaso_store::org_unit_search::OrgUnitFilter;
    let scope = store.org_unit_scope(account, &[]).await?;
    let located = OrgUnitFilter {
        versions: Some(vec![version.get()]),
        validation_statuses: None,
        located: true,
        ..Default::default()
    };
    let deepest = store
        .list_org_units(
            &scope,
            std::slice::from_ref(&located),
            false,
            &["-depth".to_string(), "id".to_string()],
            Some(1),
            1,
        )
        .await?;
    let Some(depth) = deepest.items.first().map(|u| u.depth) else {
        return Ok(Vec::new());
    };
    let ids = store
        .org_unit_ids(
            &scope,
            &OrgUnitFilter {
                depth: Some(depth),
                ..located
            },
        )
        .await?;
    let step = (ids.len() / n.max(1)).max(1);
    let chosen: Vec<i64> = ids.into_iter().step_by(step).take(n).collect();
    Ok(store.org_units_by_ids(&chosen).await?)
}

/// One demo submission, sent as the mobile app does: its metadata naming the facility, then
/// its XML (and photo) through the same ingest path as `POST /sync/form_upload/`.
struct DemoVisit<'a> {
    store: &'a Store,
    files: &'a iaso_files::FileStore,
    setup: &'a iaso_store::setup::SetupResult,
    form_id: i64,
    form_version: &'a str,
}

impl DemoVisit<'_> {
    async fn submit(&self, n: usize, unit: &iaso_store::org_units::OrgUnit) -> anyhow::Result<()> {
        use iaso_store::instances::{MobileMeta, OrgUnitRef, UploadContext};
        const LEVELS: [&str; 3] = ["primary", "secondary", "tertiary"];
        let ctx = UploadContext {
            account: Some(self.setup.account.id),
            project: Some(self.setup.project_id.get()),
            user: Some(self.setup.user.id),
        };
        let id = uuid::Uuid::new_v4();
        let file_name = format!("{id}.xml");
        let (lon, lat) = unit.location.as_ref().map_or((0.0, 0.0), |p| (p.x, p.y));
        let photo = n == 0;
        self.store
            .ingest_mobile_meta(
                ctx,
                &MobileMeta {
                    uuid: Some(id.to_string()),
                    file_name: file_name.clone(),
                    name: Some("Site visit".into()),
                    period: None,
                    accuracy: Some(5.0),
                    org_unit: Some(OrgUnitRef::Id(unit.id.get())),
                    form_id: self.form_id,
                    planning_id: None,
                    entity_uuid: None,
                    entity_type_id: None,
                    source_created_at: None,
                    source_updated_at: None,
                    latitude: Some(lat),
                    longitude: Some(lon),
                    altitude: None,
                },
            )
            .await?;
        let xml = format!(
            "<?xml version=\"1.0\"?><data id=\"site_visit\" version=\"{version}\"><site_name>{name}</site_name>\
             <visitors>{visitors}</visitors><open>{open}</open><level>{level}</level><gps>{lat} {lon} 0 5</gps>\
             <rooms><room_name>Consultation</room_name><beds>2</beds></rooms><rooms><room_name>Maternity</room_name><beds>{beds}</beds></rooms>\
             <photo>{photo}</photo><meta><instanceID>uuid:{id}</instanceID></meta></data>",
            version = self.form_version,
            name = xml_text(&unit.name),
            visitors = 5 + (n * 7) % 60,
            open = if n % 5 == 4 { "no" } else { "yes" },
            level = LEVELS[n % LEVELS.len()],
            beds = n % 6,
            photo = if photo { "site.png" } else { "" },
        );
        let media = if photo {
            vec![iaso_ingest::xml::Media {
                name: "site.png".into(),
                data: iaso_ingest::xml::MediaData::Bytes(demo_png().into()),
            }]
        } else {
            Vec::new()
        };
        iaso_ingest::xml::ingest(
            self.store,
            self.files,
            ctx,
            &file_name,
            xml.as_bytes(),
            &media,
            iaso_ingest::xml::Keying::FileName,
            "demo",
        )
        .await
        .map_err(|e| anyhow::anyhow!("{}", e.describe()))?;
        Ok(())
    }
}

/// Escapes text for an XML element.
fn xml_text(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
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
