//! Profiles, projects, roles, permissions and accounts through the API.
#![allow(clippy::unwrap_used)]

use axum::http::StatusCode;
use iaso_api::api_test;
use iaso_api::testing::TestApp;
use serde_json::json;

api_test!(profile_lifecycle, async |app: &TestApp| {
    let a = app.tenant("Alpha").await;
    let role = app
        .post("/api/userroles/")
        .token(&a.token)
        .json(json!({"name": "Data manager", "permissions": ["iaso_forms", "iaso_submissions"]}))
        .send()
        .await
        .json();
    let r = app
        .post("/api/profiles/")
        .token(&a.token)
        .json(json!({
            "user_name": "jane", "password": "filing-cabinet-9", "email": "jane@example.org",
            "first_name": "Jane", "last_name": "Doe", "user_roles": [role["id"]], "projects": [a.project_id],
            "user_permissions": ["iaso_org_units"], "language": "fr", "phone_number": "+22670000000"
        }))
        .send()
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let jane = r.json();
    assert_eq!(jane["user_roles"], json!([role["id"]]));
    assert_eq!(jane["user_permissions"], json!(["iaso_org_units"]));
    let mut perms: Vec<String> = serde_json::from_value(jane["permissions"].clone()).unwrap();
    perms.sort();
    assert_eq!(perms, ["iaso_forms", "iaso_org_units", "iaso_submissions"]);
    assert_eq!(jane["projects"][0]["app_id"], "alpha");

    // Jane logs in and sees her restrictions.
    let token = app.login("jane", "filing-cabinet-9").await;
    let me = app
        .get("/api/profiles/me/")
        .token(&token)
        .send()
        .await
        .json();
    assert_eq!(me["language"], "fr");
    assert_eq!(me["user_roles_permissions"][0]["name"], "Data manager");
    let projects = app.get("/api/projects/").token(&token).send().await.json();
    assert_eq!(projects["projects"].as_array().unwrap().len(), 1);
    let r = app
        .patch("/api/profiles/me/")
        .token(&token)
        .json(json!({"language": "en", "first_name": "J."}))
        .send()
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.json()["first_name"], "J.");

    // List with paging, search and ordering.
    let page = app
        .get("/api/profiles/?limit=1&page=1&order=-user__username")
        .token(&a.token)
        .send()
        .await
        .json();
    assert_eq!(page["count"], 2);
    assert_eq!(page["results"][0]["user_name"], "jane");
    assert_eq!(page["has_next"], true);
    assert_eq!(page["results"][0]["user_display"], "jane (J. Doe)");
    let r = app
        .get("/api/profiles/?limit=1&page=5")
        .token(&a.token)
        .send()
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.json()["detail"], "Invalid page.");
    let found = app
        .get("/api/profiles/?search=DOE")
        .token(&a.token)
        .send()
        .await
        .json();
    assert_eq!(found["count"], 1);

    // Field errors name the field; nothing is written.
    let r = app
        .post("/api/profiles/")
        .token(&a.token)
        .json(json!({"user_name": "jane", "password": "filing-cabinet-9"}))
        .send()
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.json()["user_name"].is_array(), "{}", r.text());
    let r = app
        .post("/api/profiles/")
        .token(&a.token)
        .json(json!({"user_name": "bob", "password": "123", "user_permissions": ["iaso_nope"], "email": "x"}))
        .send()
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let errors = r.json();
    assert!(
        errors["password"].is_array()
            && errors["user_permissions"].is_array()
            && errors["email"].is_array(),
        "{errors}"
    );
    let r = app
        .post("/api/profiles/")
        .token(&a.token)
        .json(json!({"user_name": "bob", "unknown": 1}))
        .send()
        .await;
    assert_eq!(
        r.status,
        StatusCode::BAD_REQUEST,
        "unknown fields are refused"
    );
    assert_eq!(
        app.get("/api/profiles/")
            .token(&a.token)
            .send()
            .await
            .json()["count"],
        2
    );

    // Update, then delete.
    let id = jane["id"].as_i64().unwrap();
    let r = app
        .patch(&format!("/api/profiles/{id}/"))
        .token(&a.token)
        .json(json!({"user_roles": []}))
        .send()
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.json()["user_roles"], json!([]));
    let me_id = app
        .get("/api/profiles/me/")
        .token(&a.token)
        .send()
        .await
        .json()["id"]
        .as_i64()
        .unwrap();
    let r = app
        .delete(&format!("/api/profiles/{me_id}/"))
        .token(&a.token)
        .send()
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "no self-deletion");
    let r = app
        .delete(&format!("/api/profiles/{id}/"))
        .token(&a.token)
        .send()
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let r = app.get("/api/profiles/me/").token(&token).send().await;
    assert_eq!(
        r.status,
        StatusCode::UNAUTHORIZED,
        "a deleted user's token stops working"
    );
});

api_test!(projects_and_flags, async |app: &TestApp| {
    let a = app.tenant("Alpha").await;
    let r = app
        .post("/api/projects/")
        .token(&a.token)
        .json(json!({"name": "Field", "app_id": "alpha.field", "feature_flags": [{"code": "ENTITY"}]}))
        .send()
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.json()["feature_flags"][0]
        .as_str()
        .unwrap()
        .contains("requires authentication"));
    let r = app
        .post("/api/projects/")
        .token(&a.token)
        .json(json!({"name": "Field", "app_id": "alpha.field", "needs_authentication": true,
                     "feature_flags": [{"code": "ENTITY"}, {"code": "TAKE_GPS_ON_FORM", "configuration": {"x": 1}}]}))
        .send()
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let p = r.json();
    let codes: Vec<&str> = p["feature_flags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["code"].as_str().unwrap())
        .collect();
    assert!(codes.contains(&"REQUIRE_AUTHENTICATION") && codes.contains(&"ENTITY"));
    let gps = p["feature_flags"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["code"] == "TAKE_GPS_ON_FORM")
        .unwrap();
    assert_eq!(gps["configuration"], json!({"x": 1}));
    let entity = p["feature_flags"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["code"] == "ENTITY")
        .unwrap();
    assert!(
        entity.get("configuration").is_none(),
        "null configuration is omitted"
    );
    let r = app
        .post("/api/projects/")
        .token(&a.token)
        .json(json!({"name": "Dup", "app_id": "alpha.field"}))
        .send()
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.json()["app_id"], json!(["App id already used"]));
    let list = app
        .get("/api/projects/?order=-name")
        .token(&a.token)
        .send()
        .await
        .json();
    let names: Vec<&str> = list["projects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Main Project", "Field"]);
    let paged = app
        .get("/api/projects/?limit=1")
        .token(&a.token)
        .send()
        .await
        .json();
    assert_eq!(
        (paged["count"].as_i64(), paged["pages"].as_i64()),
        (Some(2), Some(2))
    );
    let flags = app
        .get("/api/featureflags/")
        .token(&a.token)
        .send()
        .await
        .json();
    assert!(flags["featureflags"].as_array().unwrap().len() >= 30);
});

api_test!(roles_and_permissions, async |app: &TestApp| {
    let a = app.tenant("Alpha").await;
    let r = app
        .post("/api/userroles/")
        .token(&a.token)
        .json(json!({"name": "Viewer", "permissions": ["iaso_org_units_read", "not_a_permission"]}))
        .send()
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.json()["permissions"][0]
        .as_str()
        .unwrap()
        .contains("not_a_permission"));
    let viewer = app
        .post("/api/userroles/")
        .token(&a.token)
        .json(json!({"name": "Viewer", "permissions": ["iaso_org_units_read"]}))
        .send()
        .await;
    assert_eq!(viewer.status, StatusCode::CREATED);
    let r = app
        .post("/api/userroles/")
        .token(&a.token)
        .json(json!({"name": "VIEWER"}))
        .send()
        .await;
    assert_eq!(
        r.status,
        StatusCode::BAD_REQUEST,
        "names are unique ignoring case"
    );
    let id = viewer.json()["id"].as_i64().unwrap();
    let r = app
        .put(&format!("/api/userroles/{id}/"))
        .token(&a.token)
        .json(json!({"name": "Reader", "permissions": ["iaso_sources"]}))
        .send()
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json()["permissions"], json!(["iaso_sources"]));
    let list = app
        .get("/api/userroles/?search=read")
        .token(&a.token)
        .send()
        .await
        .json();
    assert_eq!(list["results"].as_array().unwrap().len(), 1);
    let perms = app
        .get("/api/permissions/")
        .token(&a.token)
        .send()
        .await
        .json();
    let all = perms["permissions"].as_array().unwrap();
    assert_eq!(all.len(), 48, "every module is active in the test tenant");
    let names: Vec<&str> = all.iter().map(|p| p["name"].as_str().unwrap()).collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted, "sorted by name");
    let grouped = app
        .get("/api/permissions/grouped_permissions/")
        .token(&a.token)
        .send()
        .await
        .json();
    assert!(grouped["permissions"]["org_units"]
        .as_array()
        .unwrap()
        .iter()
        .any(|p| p["codename"] == "iaso_org_units"));
    let r = app
        .delete(&format!("/api/userroles/{id}/"))
        .token(&a.token)
        .send()
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
});

api_test!(setup_account_and_switch, async |app: &TestApp| {
    let a = app.tenant("Alpha").await;
    let body = json!({"account_name": "Beta", "user_username": "beta_admin", "password": "beta-passphrase-1", "modules": ["DATA_COLLECTION_FORMS"]});
    let r = app
        .post("/api/setupaccount/")
        .token(&a.token)
        .json(body.clone())
        .send()
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "only superusers");
    // Promote Alpha's admin to superuser.
    app.store().promote_superuser(a.user_id).await.unwrap();
    let r = app
        .post("/api/setupaccount/")
        .token(&a.token)
        .json(json!({"account_name": "Beta", "user_username": "x", "modules": ["NOPE"]}))
        .send()
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let errors = r.json();
    assert!(
        errors["modules"].is_array() && errors["password"].is_array(),
        "{errors}"
    );
    let r = app
        .post("/api/setupaccount/")
        .token(&a.token)
        .json(body)
        .send()
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let beta_id = r.json()["created_account_id"].as_i64().unwrap();
    let beta = app.login("beta_admin", "beta-passphrase-1").await;
    let me = app
        .get("/api/profiles/me/")
        .token(&beta)
        .send()
        .await
        .json();
    assert_eq!(me["account"]["name"], "Beta");
    assert!(me["permissions"]
        .as_array()
        .unwrap()
        .contains(&json!("iaso_forms")));
    assert!(!me["permissions"]
        .as_array()
        .unwrap()
        .contains(&json!("iaso_mappings")));

    // Alpha's admin joins Beta, then switches to it.
    let r = app
        .post("/api/profiles/")
        .token(&beta)
        .json(json!({"user_name": a.username, "user_permissions": ["iaso_users"]}))
        .send()
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let me = app
        .get("/api/profiles/me/")
        .token(&a.token)
        .send()
        .await
        .json();
    assert_eq!(me["other_accounts"][0]["name"], "Beta");
    let r = app
        .post("/api/accounts/switch/")
        .token(&a.token)
        .json(json!({"account_id": beta_id}))
        .send()
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text());
    let me = app
        .get("/api/profiles/me/")
        .token(&a.token)
        .send()
        .await
        .json();
    assert_eq!(me["account"]["name"], "Beta");
    let r = app
        .post("/api/accounts/switch/")
        .token(&beta)
        .json(json!({"account_id": a.account_id}))
        .send()
        .await;
    assert_eq!(
        r.status,
        StatusCode::BAD_REQUEST,
        "cannot switch into an account one does not belong to"
    );
    let accounts = app
        .get("/api/accounts/")
        .token(&a.token)
        .send()
        .await
        .json();
    assert_eq!(accounts["results"].as_array().unwrap().len(), 2);
});
