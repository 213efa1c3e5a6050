//! Helpers shared by the forms and submissions test files.
#![allow(clippy::unwrap_used, dead_code)]

use iaso_api::testing::{Tenant, TestApp};
use serde_json::{json, Value};

pub const DEMO_CSV: &str = "survey,,,,
,type,name,label,required
,text,name_of_site,Name of the site,yes
,integer,visitors,Visitors,
,select_one yn,open,Is it open?,
,geopoint,gps,Location,
,begin_group,details,Details,
,text,note_text,Remarks,
,end_group,,,
,begin_repeat,rooms,Rooms,
,text,room_name,Room name,
,integer,beds,Beds,
,end_repeat,,,
,image,photo,Photo,
choices,,,,
,list_name,name,label,
,yn,yes,Yes,
,yn,no,No,
settings,,,,
,form_title,form_id,version,
,Demo form,demo_form,VERSION,
";

pub fn multipart(parts: &[(&str, Option<&str>, &[u8])]) -> (String, Vec<u8>) {
    let boundary = "----iasotestboundary7MA4YWxk";
    let mut body = Vec::new();
    for (name, file, data) in parts {
        body.extend(format!("--{boundary}\r\n").as_bytes());
        match file {
            Some(f) => body.extend(
                format!("Content-Disposition: form-data; name=\"{name}\"; filename=\"{f}\"\r\nContent-Type: application/octet-stream\r\n\r\n").as_bytes(),
            ),
            None => body.extend(format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n").as_bytes()),
        }
        body.extend(*data);
        body.extend(b"\r\n");
    }
    body.extend(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

pub async fn create_form(app: &TestApp, t: &Tenant, name: &str) -> i64 {
    let r = app
        .post("/api/forms/")
        .token(&t.token)
        .json(json!({"name": name, "project_ids": [t.project_id.get()], "org_unit_type_ids": []}))
        .send()
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    r.json()["id"].as_i64().unwrap()
}

pub async fn upload_version(app: &TestApp, t: &Tenant, form: i64, version: &str) -> (u16, Value) {
    let csv = DEMO_CSV.replace("VERSION", version);
    let form_id = form.to_string();
    let (ct, body) = multipart(&[
        ("form_id", None, form_id.as_bytes()),
        ("xls_file", Some("demo.csv"), csv.as_bytes()),
    ]);
    let r = app
        .post("/api/formversions/")
        .token(&t.token)
        .body(&ct, body)
        .send()
        .await;
    (
        r.status.as_u16(),
        serde_json::from_slice(&r.body).unwrap_or(Value::Null),
    )
}

pub fn submission(version: &str, instance_id: &str, site: &str) -> String {
    format!(
        r#"<?xml version="1.0"?><data id="demo_form" version="{version}" xmlns:jr="http://openrosa.org/javarosa">
<name_of_site>{site}</name_of_site><visitors>12</visitors><open>yes</open><gps>50.8 4.35 100 5</gps>
<details><note_text>ok &amp; fine</note_text></details>
<rooms><room_name>A</room_name><beds>2</beds></rooms><rooms><room_name>B</room_name><beds>3</beds></rooms>
<photo>p.jpg</photo><meta><instanceID>uuid:{instance_id}</instanceID></meta></data>"#
    )
}

pub async fn setup(app: &TestApp) -> (Tenant, i64) {
    let t = app.tenant("A").await;
    let form = create_form(app, &t, "Demo").await;
    let (status, v) = upload_version(app, &t, form, "2024010101").await;
    assert_eq!(status, 201, "{v}");
    (t, form)
}

pub async fn app_id(app: &TestApp, t: &Tenant) -> String {
    let r = app
        .get(&format!("/api/projects/{}/", t.project_id.get()))
        .token(&t.token)
        .send()
        .await;
    r.json()["app_id"].as_str().unwrap().to_string()
}

pub async fn count(app: &TestApp, t: &Tenant, form: i64) -> i64 {
    let r = app
        .get(&format!("/api/instances/?form_ids={form}&limit=1"))
        .token(&t.token)
        .send()
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()["count"].as_i64().unwrap()
}

pub fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// A small pyramid in the tenant's default version: a country, a region under it, a district
/// under the region and two facilities in the district (one at the region level too).
pub struct Geo {
    pub country: i64,
    pub region: i64,
    pub district: i64,
    pub facilities: Vec<i64>,
    pub other_region: i64,
    pub other_facility: i64,
    pub hf_type: i64,
    pub region_type: i64,
}

pub async fn new_type(app: &TestApp, t: &Tenant, name: &str, depth: i64) -> i64 {
    let r = app
        .post("/api/v2/orgunittypes/")
        .token(&t.token)
        .json(json!({"name": name, "short_name": &name[..3], "depth": depth, "project_ids": [t.project_id]}))
        .send()
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    r.json()["id"].as_i64().unwrap()
}

pub async fn new_unit(app: &TestApp, t: &Tenant, body: Value) -> i64 {
    let r = app
        .post("/api/orgunits/create_org_unit/")
        .token(&t.token)
        .json(body)
        .send()
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()["id"].as_i64().unwrap()
}

pub async fn geo(app: &TestApp, t: &Tenant) -> Geo {
    let country_t = new_type(app, t, "Country", 0).await;
    let region_t = new_type(app, t, "Region", 1).await;
    let hf_t = new_type(app, t, "Health facility", 3).await;
    let country = new_unit(app, t, json!({"name": "Burkina", "org_unit_type_id": country_t, "validation_status": "VALID", "source_ref": "BF"})).await;
    let region = new_unit(app, t, json!({"name": "Centre", "org_unit_type_id": region_t, "parent_id": country, "validation_status": "VALID", "source_ref": "BF-C", "aliases": ["Kadiogo"]})).await;
    let district = new_unit(app, t, json!({"name": "Baskuy", "org_unit_type_id": region_t, "parent_id": region, "validation_status": "VALID"})).await;
    let mut facilities = Vec::new();
    for name in ["CSPS Larle", "CSPS Dapoya"] {
        facilities.push(new_unit(app, t, json!({"name": name, "org_unit_type_id": hf_t, "parent_id": district, "validation_status": "VALID", "source_ref": format!("ref-{name}")})).await);
    }
    let other_region = new_unit(app, t, json!({"name": "Sahel", "org_unit_type_id": region_t, "parent_id": country, "validation_status": "VALID"})).await;
    let other_facility = new_unit(app, t, json!({"name": "CSPS Dori", "org_unit_type_id": hf_t, "parent_id": other_region, "validation_status": "NEW"})).await;
    Geo {
        country,
        region,
        district,
        facilities,
        other_region,
        other_facility,
        hf_type: hf_t,
        region_type: region_t,
    }
}

/// Links org unit types to a form.
pub async fn set_form_types(app: &TestApp, t: &Tenant, form: i64, types: &[i64]) {
    let r = app
        .patch(&format!("/api/forms/{form}/"))
        .token(&t.token)
        .json(json!({"org_unit_type_ids": types}))
        .send()
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
}

/// One submission through the mobile pair (metadata then XML) at an org unit (id or uuid);
/// returns its id.
pub async fn mobile_submission(
    app: &TestApp,
    t: &Tenant,
    form: i64,
    org_unit: Value,
    uuid: &str,
    site: &str,
    location: Option<(f64, f64)>,
) -> i64 {
    let app_id = app_id(app, t).await;
    let mut item = json!({"id": uuid, "file": format!("/sdcard/{uuid}.xml"), "name": site, "formId": form,
        "orgUnitId": org_unit, "created_at": 1712326182.45, "updated_at": 1712326182.45});
    if let Some((lat, lon)) = location {
        item["latitude"] = json!(lat);
        item["longitude"] = json!(lon);
    }
    let r = app
        .post(&format!("/api/instances/?app_id={app_id}"))
        .token(&t.token)
        .json(json!([item]))
        .send()
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let xml = submission("2024010101", uuid, site);
    let name = format!("{uuid}.xml");
    let (ct, body) = multipart(&[("xml_submission_file", Some(&name), xml.as_bytes())]);
    let r = app
        .post("/sync/form_upload/")
        .token(&t.token)
        .body(&ct, body)
        .send()
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    app.store()
        .instance_by_uuid(t.account_id, uuid)
        .await
        .unwrap()
        .id
}
