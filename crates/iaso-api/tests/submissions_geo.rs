//! Submissions and the georegistry on both backends: org units by id or device uuid, the
//! org-unit filters (descendants through the materialised path, type, status, refs, search),
//! org unit fields in answers and exports, profile sub-tree restriction, locks per level,
//! map mode, and form org unit types of the account only.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use iaso_api::api_test;
use iaso_api::testing::{Tenant, TestApp};
use serde_json::{json, Value};

async fn ids(app: &TestApp, t: &Tenant, query: &str) -> Vec<i64> {
    let r = app
        .get(&format!("/api/instances/?limit=100&order=id&{query}"))
        .token(&t.token)
        .send()
        .await;
    assert_eq!(r.status, 200, "{query}: {}", r.text());
    r.json()["instances"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_i64().unwrap())
        .collect()
}

async fn restricted_user(app: &TestApp, admin: &Tenant, name: &str, units: &[i64]) -> Tenant {
    let r = app
        .post("/api/profiles/")
        .token(&admin.token)
        .json(
            json!({"user_name": name, "password": "a-long-passphrase", "org_units": units,
                     "user_permissions": ["iaso_submissions", "iaso_forms"]}),
        )
        .send()
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let token = app.login(name, "a-long-passphrase").await;
    Tenant {
        token,
        username: name.into(),
        ..admin.clone()
    }
}

api_test!(org_units_of_submissions, async |app: &TestApp| {
    let (t, form) = setup(app).await;
    let g = geo(app, &t).await;
    set_form_types(app, &t, form, &[g.hf_type]).await;
    let app_id = app_id(app, &t).await;
    // A unit created on a device, then a submission naming it by its uuid.
    let r = app
        .post(&format!("/api/mobile/orgunits/?app_id={app_id}"))
        .token(&t.token)
        .json(json!([{"id": "dev-unit-1", "name": "New post", "parentId": g.district.to_string(),
                      "org_unit_type_id": g.hf_type.to_string(), "latitude": 12.1, "longitude": -1.2,
                      "created_at": 1712326429.884}]))
        .send()
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let dev_unit = r.json()[0]["id"].as_i64().unwrap();
    let a = mobile_submission(
        app,
        &t,
        form,
        json!(g.facilities[0]),
        "s-a",
        "A",
        Some((12.3, -1.5)),
    )
    .await;
    let b = mobile_submission(
        app,
        &t,
        form,
        json!("dev-unit-1"),
        "s-b",
        "B",
        Some((14.0, 0.5)),
    )
    .await;
    let c = mobile_submission(
        app,
        &t,
        form,
        json!(g.other_facility.to_string()),
        "s-c",
        "C",
        None,
    )
    .await;
    let i = app
        .store()
        .instance_by_uuid(t.account_id, "s-b")
        .await
        .unwrap();
    assert_eq!(
        i.org_unit_id,
        Some(dev_unit),
        "uuid resolved in the default version"
    );

    // Another tenant's unit, an unknown uuid: refused, nothing created.
    let other = app.tenant("B").await;
    let og = geo(app, &other).await;
    for bad in [json!(og.facilities[0]), json!("no-such-uuid")] {
        let r = app
            .post(&format!("/api/instances/?app_id={app_id}"))
            .token(&t.token)
            .json(json!([{"id": "bad", "file": "bad.xml", "formId": form, "orgUnitId": bad}]))
            .send()
            .await;
        assert_eq!(r.status, 400, "{}", r.text());
        assert!(r.text().contains("Unknown org unit"), "{}", r.text());
    }
    assert!(app
        .store()
        .instance_by_uuid(t.account_id, "bad")
        .await
        .is_err());

    // The unit in list items (Iaso's OrgUnit.as_dict).
    let r = app
        .get(&format!(
            "/api/instances/?limit=10&order=id&form_ids={form}"
        ))
        .token(&t.token)
        .send()
        .await;
    let first = &r.json()["instances"][0];
    assert_eq!(first["org_unit"]["id"], g.facilities[0]);
    assert_eq!(first["org_unit"]["name"], "CSPS Larle");
    assert_eq!(first["org_unit"]["org_unit_type_id"], g.hf_type);
    assert_eq!(first["org_unit"]["parent_id"], g.district);

    // Filters.
    assert_eq!(
        ids(app, &t, &format!("orgUnitParentId={}", g.region)).await,
        [a, b]
    );
    assert_eq!(
        ids(app, &t, &format!("orgUnitParentId={}", g.country)).await,
        [a, b, c]
    );
    assert_eq!(
        ids(app, &t, &format!("orgUnitParentId={}", g.facilities[0])).await,
        [a],
        "a unit is its own descendant"
    );
    assert_eq!(
        ids(app, &t, &format!("orgUnitParentId={}", og.country)).await,
        Vec::<i64>::new(),
        "another tenant's unit"
    );
    assert_eq!(
        ids(app, &t, &format!("orgUnitId={}", g.facilities[0])).await,
        [a]
    );
    assert_eq!(
        ids(app, &t, &format!("orgUnitTypeId={}", g.hf_type)).await,
        [a, b, c]
    );
    assert_eq!(
        ids(app, &t, &format!("orgUnitTypeId={}", g.region_type)).await,
        Vec::<i64>::new()
    );
    assert_eq!(ids(app, &t, "org_unit_status=NEW").await, [b, c]);
    assert_eq!(ids(app, &t, "search=larle").await, [a]);
    assert_eq!(
        ids(
            app,
            &t,
            &format!("search={}", urlencode("refs:ref-CSPS Larle,nope"))
        )
        .await,
        [a]
    );
    assert_eq!(ids(app, &t, &format!("search=ids:{b},{c}")).await, [b, c]);
    assert_eq!(ids(app, &t, "order=org_unit__name").await.len(), 3);

    // Detail: the unit with its parents (as_dict_with_parents).
    let r = app
        .get(&format!("/api/instances/{a}/"))
        .token(&t.token)
        .send()
        .await;
    let d = r.json();
    assert_eq!(d["org_unit"]["name"], "CSPS Larle");
    assert_eq!(d["org_unit"]["parent"]["name"], "Baskuy");
    assert_eq!(d["org_unit"]["parent"]["parent"]["name"], "Centre");
    assert_eq!(d["org_unit"]["org_unit_type"]["id"], g.hf_type);

    // Export columns.
    let r = app
        .get(&format!("/api/instances/?form_id={form}&csv=true&order=id"))
        .token(&t.token)
        .send()
        .await;
    let mut rd = csv::Reader::from_reader(r.body.as_slice());
    let header: Vec<String> = rd.headers().unwrap().iter().map(String::from).collect();
    let col = |n: &str| header.iter().position(|h| h == n).unwrap();
    let rows: Vec<csv::StringRecord> = rd.records().map(|r| r.unwrap()).collect();
    assert_eq!(rows.len(), 3);
    assert_eq!(&rows[0][col("Org unit")], "CSPS Larle");
    assert_eq!(&rows[0][col("Org unit id")], g.facilities[0].to_string());
    assert_eq!(&rows[0][col("Référence externe")], "ref-CSPS Larle");
    assert_eq!(&rows[0][col("parent1")], "Baskuy");
    assert_eq!(&rows[0][col("parent2")], "Centre");
    assert_eq!(&rows[0][col("parent3")], "Burkina");
    assert_eq!(&rows[0][col("parent4")], "");
    assert_eq!(&rows[2][col("parent1")], "Sahel");

    // Map mode: located submissions only, bbox.
    let r = app
        .get(&format!("/api/instances/map/?form_ids={form}"))
        .token(&t.token)
        .send()
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let pts = r.json();
    assert_eq!(pts.as_array().unwrap().len(), 2);
    assert_eq!(pts[0], json!({"id": b, "latitude": 14.0, "longitude": 0.5}));
    let r = app
        .get(&format!(
            "/api/instances/?asLocation=true&form_ids={form}&bbox=-2,12,-1,13"
        ))
        .token(&t.token)
        .send()
        .await;
    assert_eq!(
        r.json(),
        json!([{"id": a, "latitude": 12.3, "longitude": -1.5}])
    );
    let r = app
        .get("/api/instances/map/?bbox=1,2,3")
        .token(&t.token)
        .send()
        .await;
    assert_eq!(r.status, 400);

    // A version whose units have submissions cannot be deleted (the foreign key holds).
    let version = app
        .get("/api/profiles/me/")
        .token(&t.token)
        .send()
        .await
        .json()["account"]["default_version"]["id"]
        .as_i64()
        .unwrap();
    let r = app
        .delete(&format!("/api/sourceversions/{version}/"))
        .token(&t.token)
        .send()
        .await;
    assert_eq!(r.status, 409, "{}", r.text());
});

api_test!(
    profile_sub_tree_restricts_submissions,
    async |app: &TestApp| {
        let (t, form) = setup(app).await;
        let g = geo(app, &t).await;
        let a = mobile_submission(app, &t, form, json!(g.facilities[0]), "s-a", "A", None).await;
        let c = mobile_submission(app, &t, form, json!(g.other_facility), "s-c", "C", None).await;
        // A submission without org unit (OpenRosa) is invisible to restricted users.
        let xml = submission("2024010101", "no-unit", "N");
        let (ct, body) = multipart(&[("xml_submission_file", Some("n.xml"), xml.as_bytes())]);
        let app_id = app_id(app, &t).await;
        let r = app
            .post(&format!("/openrosa/{app_id}/submission"))
            .token(&t.token)
            .body(&ct, body)
            .send()
            .await;
        assert_eq!(r.status, 201, "{}", r.text());
        assert_eq!(ids(app, &t, "").await.len(), 3);

        let sahel = restricted_user(app, &t, "sahel", &[g.other_region]).await;
        assert_eq!(ids(app, &sahel, "").await, [c]);
        let r = app
            .get(&format!("/api/instances/{a}/"))
            .token(&sahel.token)
            .send()
            .await;
        assert_eq!(r.status, 404);
        let r = app
            .patch(&format!("/api/instances/{a}/"))
            .token(&sahel.token)
            .json(json!({"deleted": true}))
            .send()
            .await;
        assert_eq!(r.status, 404);
        let r = app
            .get(&format!("/api/instances/?form_id={form}&csv=true"))
            .token(&sahel.token)
            .send()
            .await;
        assert_eq!(r.text().lines().count(), 2, "header + the one visible row");
        let r = app
            .post("/api/instances/bulkdelete/")
            .token(&sahel.token)
            .json(json!({"selected_ids": [a, c]}))
            .send()
            .await;
        assert_eq!(r.status, 201, "{}", r.text());
        assert_eq!(
            ids(app, &t, "").await.len(),
            2,
            "only the visible one was deleted"
        );
        assert_eq!(ids(app, &t, "showDeleted=true").await, [c]);

        // Restricted to a unit without submissions: sees nothing.
        let nobody = restricted_user(app, &t, "gone", &[g.facilities[1]]).await;
        assert!(ids(app, &nobody, "").await.is_empty());
    }
);

api_test!(locks_per_level, async |app: &TestApp| {
    let (t, form) = setup(app).await;
    let g = geo(app, &t).await;
    let i = mobile_submission(app, &t, form, json!(g.facilities[0]), "s-l", "L", None).await;
    let alice = restricted_user(app, &t, "alice", &[g.country]).await;
    let bob = restricted_user(app, &t, "bob", &[g.region, g.other_region]).await;
    let chris = restricted_user(app, &t, "chris", &[g.district]).await;
    async fn state(app: &TestApp, u: &Tenant, id: i64) -> (bool, bool) {
        let d = app
            .get(&format!("/api/instances/{id}/"))
            .token(&u.token)
            .send()
            .await
            .json();
        let l = app
            .get(&format!("/api/instances/?limit=10&search=ids:{id}"))
            .token(&u.token)
            .send()
            .await
            .json();
        let item = &l["instances"][0];
        assert_eq!(item["can_user_modify"], d["can_user_modify"]);
        assert_eq!(item["is_locked"], d["is_locked"]);
        (
            d["can_user_modify"].as_bool().unwrap(),
            d["is_locked"].as_bool().unwrap(),
        )
    }
    for u in [&alice, &bob, &chris, &t] {
        assert_eq!(state(app, u, i).await, (true, false));
    }
    // Bob locks: at his highest unit containing the submission (the region).
    let r = app
        .post(&format!("/api/instances/{i}/add_lock/"))
        .token(&bob.token)
        .send()
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["status"], "lock added");
    let bob_lock = r.json()["lock_id"].as_i64().unwrap();
    let d = app
        .get(&format!("/api/instances/{i}/"))
        .token(&t.token)
        .send()
        .await
        .json();
    assert_eq!(
        d["instance_locks"][0]["top_org_unit"],
        json!({"id": g.region, "name": "Centre"})
    );
    assert_eq!(d["instance_locks"][0]["locked_by"]["username"], "bob");
    assert_eq!(state(app, &alice, i).await, (true, true));
    assert_eq!(state(app, &bob, i).await, (true, true));
    assert_eq!(state(app, &chris, i).await, (false, true));
    let r = app
        .patch(&format!("/api/instances/{i}/"))
        .token(&chris.token)
        .json(json!({"deleted": true}))
        .send()
        .await;
    assert_eq!(r.status, 403, "{}", r.text());
    let r = app
        .delete(&format!("/api/instances/{i}/"))
        .token(&chris.token)
        .send()
        .await;
    assert_eq!(r.status, 403);
    let r = app
        .post("/api/instances/bulkdelete/")
        .token(&chris.token)
        .json(json!({"selected_ids": [i]}))
        .send()
        .await;
    assert_eq!(r.status, 403);
    let r = app
        .post("/api/instances/unlock_lock/")
        .token(&chris.token)
        .json(json!({"lock": bob_lock}))
        .send()
        .await;
    assert_eq!(r.status, 403);
    // Alice locks above (the country): Bob is now below the lock.
    let r = app
        .post(&format!("/api/instances/{i}/add_lock/"))
        .token(&alice.token)
        .send()
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let alice_lock = r.json()["lock_id"].as_i64().unwrap();
    assert_eq!(state(app, &bob, i).await, (false, true));
    assert_eq!(state(app, &alice, i).await, (true, true));
    // Alice unlocks hers; unlocking twice is refused.
    let r = app
        .post("/api/instances/unlock_lock/")
        .token(&alice.token)
        .json(json!({"lock": alice_lock}))
        .send()
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        r.json(),
        json!({"status": "lock removed", "lock_id": alice_lock})
    );
    let r = app
        .post("/api/instances/unlock_lock/")
        .token(&alice.token)
        .json(json!({"lock": alice_lock}))
        .send()
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["lock"][0], "Lock already unlocked");
    assert_eq!(state(app, &bob, i).await, (true, true));
    assert_eq!(state(app, &chris, i).await, (false, true));
    // Bob unlocks his: everyone may change it again.
    let r = app
        .post("/api/instances/unlock_lock/")
        .token(&bob.token)
        .json(json!({"lock": bob_lock}))
        .send()
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(state(app, &chris, i).await, (true, false));
    let r = app
        .patch(&format!("/api/instances/{i}/"))
        .token(&chris.token)
        .json(json!({"deleted": false}))
        .send()
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    // An unrestricted user locks at the root of the submission's tree.
    let r = app
        .post(&format!("/api/instances/{i}/add_lock/"))
        .token(&t.token)
        .send()
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let d = app
        .get(&format!("/api/instances/{i}/"))
        .token(&t.token)
        .send()
        .await
        .json();
    assert_eq!(d["instance_locks"][0]["top_org_unit"]["id"], g.country);
    // Unknown lock, another tenant's lock: 400 naming the lock.
    let r = app
        .post("/api/instances/unlock_lock/")
        .token(&t.token)
        .json(json!({"lock": 987654}))
        .send()
        .await;
    assert_eq!(r.status, 400);
    let other = app.tenant("B").await;
    let r = app
        .post("/api/instances/unlock_lock/")
        .token(&other.token)
        .json(json!({"lock": bob_lock}))
        .send()
        .await;
    assert_eq!(r.status, 400);
    // A submission without org unit cannot be locked.
    let xml = submission("2024010101", "nounit", "N");
    let (ct, body) = multipart(&[("xml_submission_file", Some("n.xml"), xml.as_bytes())]);
    let app_id = app_id(app, &t).await;
    app.post(&format!("/openrosa/{app_id}/submission"))
        .token(&t.token)
        .body(&ct, body)
        .send()
        .await;
    let n = app
        .store()
        .instance_by_uuid(t.account_id, "nounit")
        .await
        .unwrap()
        .id;
    let r = app
        .post(&format!("/api/instances/{n}/add_lock/"))
        .token(&t.token)
        .send()
        .await;
    assert_eq!(r.status, 400, "{}", r.text());
});

api_test!(form_org_unit_types_and_patch, async |app: &TestApp| {
    let (t, form) = setup(app).await;
    let g = geo(app, &t).await;
    let other = app.tenant("B").await;
    let og = geo(app, &other).await;
    // Another account's type: refused on create and update.
    let r = app
        .post("/api/forms/")
        .token(&t.token)
        .json(json!({"name": "X", "project_ids": [t.project_id.get()], "org_unit_type_ids": [og.hf_type]}))
        .send()
        .await;
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(r.json().get("org_unit_type_ids").is_some(), "{}", r.text());
    let r = app
        .patch(&format!("/api/forms/{form}/"))
        .token(&t.token)
        .json(json!({"org_unit_type_ids": [g.hf_type, og.hf_type]}))
        .send()
        .await;
    assert_eq!(r.status, 400, "{}", r.text());
    set_form_types(app, &t, form, &[g.hf_type]).await;
    let r = app
        .get(&format!("/api/forms/{form}/"))
        .token(&t.token)
        .send()
        .await;
    assert_eq!(r.json()["org_unit_type_ids"], json!([g.hf_type]));

    let i = mobile_submission(app, &t, form, json!(g.facilities[0]), "s-p", "P", None).await;
    // A unit whose type is not the form's, another tenant's unit: refused.
    for bad in [g.district, og.facilities[0]] {
        let r = app
            .patch(&format!("/api/instances/{i}/"))
            .token(&t.token)
            .json(json!({"org_unit": bad}))
            .send()
            .await;
        assert_eq!(r.status, 400, "{}", r.text());
        assert!(r.json().get("org_unit").is_some(), "{}", r.text());
    }
    let r = app
        .patch(&format!("/api/instances/{i}/"))
        .token(&t.token)
        .json(json!({"org_unit": g.facilities[1]}))
        .send()
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["org_unit"]["id"], g.facilities[1]);
    assert_eq!(r.json()["org_unit"]["parent"]["id"], g.district);
    // A restricted user cannot move it outside their sub-tree.
    let chris = restricted_user(app, &t, "chris", &[g.district]).await;
    let r = app
        .patch(&format!("/api/instances/{i}/"))
        .token(&chris.token)
        .json(json!({"org_unit": g.other_facility}))
        .send()
        .await;
    assert_eq!(r.status, 400, "{}", r.text());
    let _: Value = r.json();
});
