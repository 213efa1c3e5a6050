//! Authentication: tokens, sessions, CSRF, throttling, and the generic refusals.
#![allow(clippy::unwrap_used)]

use axum::http::StatusCode;
use iaso_api::api_test;
use iaso_api::testing::{TestApp, PASSWORD};
use serde_json::json;

api_test!(token_pair_and_profile_me, async |app: &TestApp| {
    let a = app.tenant("Alpha").await;
    let r = app
        .post("/api/token/")
        .json(json!({"username": a.username, "password": PASSWORD}))
        .send()
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let body = r.json();
    let access = body["access"].as_str().unwrap();
    let refresh = body["refresh"].as_str().unwrap();
    // Real JWTs with SimpleJWT-like claims.
    let payload = access.split('.').nth(1).unwrap();
    use base64::Engine;
    let claims: serde_json::Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap();
    assert_eq!(claims["token_type"], "access");
    assert_eq!(claims["user_id"], a.user_id.get());
    assert!(claims["exp"].as_i64().unwrap() > chrono::Utc::now().timestamp());

    let me = app.get("/api/profiles/me/").token(access).send().await;
    assert_eq!(me.status, StatusCode::OK);
    let me = me.json();
    assert_eq!(me["user_name"], a.username);
    assert_eq!(me["account"]["name"], "Alpha");
    assert!(me["permissions"]
        .as_array()
        .unwrap()
        .contains(&json!("iaso_users")));
    assert_eq!(me["projects"], json!([]), "no project restriction");
    assert!(me["account"]["modules"]
        .as_array()
        .unwrap()
        .contains(&json!("DEFAULT")));

    // Refresh ignores a stale Authorization header and rotates the pair.
    let r = app
        .post("/api/token/refresh/")
        .header("authorization", "Bearer garbage")
        .json(json!({"refresh": refresh}))
        .send()
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert!(r.json()["access"].is_string() && r.json()["refresh"].is_string());
    // An access token is not a refresh token.
    let r = app
        .post("/api/token/refresh/")
        .json(json!({"refresh": access}))
        .send()
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    // Form-encoded login works too.
    let r = app
        .post("/api/token/")
        .body(
            "application/x-www-form-urlencoded",
            format!("username={}&password={PASSWORD}", a.username),
        )
        .send()
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
});

api_test!(bad_credentials_look_alike, async |app: &TestApp| {
    let a = app.tenant("Alpha").await;
    let wrong = app
        .post("/api/token/")
        .json(json!({"username": a.username, "password": "nope-nope"}))
        .send()
        .await;
    let unknown = app
        .post("/api/token/")
        .json(json!({"username": "ghost", "password": "nope-nope"}))
        .send()
        .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert_eq!(unknown.status, StatusCode::UNAUTHORIZED);
    assert_eq!(wrong.json(), unknown.json());
    assert_eq!(
        wrong.json()["detail"],
        "No active account found with the given credentials"
    );
    assert!(!wrong.text().contains("nope-nope"), "password echoed");
});

api_test!(tokens_expire_tamper_and_revoke, async |app: &TestApp| {
    let a = app.tenant("Alpha").await;
    // Tampered signature.
    let mut parts: Vec<String> = a.token.split('.').map(String::from).collect();
    parts[2] = parts[2].chars().rev().collect();
    let r = app
        .get("/api/profiles/me/")
        .token(&parts.join("."))
        .send()
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.json()["code"], "token_not_valid");
    // Expired.
    let expired = iaso_api::jwt::JwtKeys::new("test-secret-key-of-at-least-32-characters", -5, -5)
        .issue(a.user_id, 1, iaso_api::jwt::TokenType::Access)
        .unwrap();
    let r = app.get("/api/profiles/me/").token(&expired).send().await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    // No credentials.
    let r = app.get("/api/profiles/me/").send().await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        r.json()["detail"],
        "Authentication credentials were not provided."
    );
    // A password change revokes earlier tokens.
    let r = app
        .patch("/api/profiles/me/update-password/")
        .token(&a.token)
        .json(json!({"password": "another-long-passphrase"}))
        .send()
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text());
    let r = app.get("/api/profiles/me/").token(&a.token).send().await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "old token still works");
    let fresh = app.login(&a.username, "another-long-passphrase").await;
    assert_eq!(
        app.get("/api/profiles/me/")
            .token(&fresh)
            .send()
            .await
            .status,
        StatusCode::OK
    );
});

api_test!(login_throttling, async |app: &TestApp| {
    let a = app.tenant("Alpha").await;
    for _ in 0..10 {
        let r = app
            .post("/api/token/")
            .json(json!({"username": a.username, "password": "wrong-wrong"}))
            .send()
            .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    }
    // Locked, even with the right password.
    let r = app
        .post("/api/token/")
        .json(json!({"username": a.username, "password": PASSWORD}))
        .send()
        .await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.text());
    assert!(r.headers.get("retry-after").is_some());
});

api_test!(malformed_and_oversized_bodies, async |app: &TestApp| {
    let a = app.tenant("Alpha").await;
    let r = app
        .post("/api/userroles/")
        .token(&a.token)
        .body("application/json", "{\"name\": ")
        .send()
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(
        r.json()["detail"]
            .as_str()
            .unwrap()
            .contains("JSON parse error"),
        "{}",
        r.text()
    );
    let r = app
        .post("/api/userroles/")
        .token(&a.token)
        .json(json!({"name": 12}))
        .send()
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text());
    let huge = format!("{{\"name\": \"{}\"}}", "x".repeat(101 * 1024 * 1024));
    let r = app
        .post("/api/userroles/")
        .token(&a.token)
        .body("application/json", huge)
        .send()
        .await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", r.text());
    // Nothing was created by any of these.
    let roles = app
        .get("/api/userroles/")
        .token(&a.token)
        .send()
        .await
        .json();
    assert_eq!(roles["results"], json!([]));
});

api_test!(missing_permission_is_403, async |app: &TestApp| {
    let a = app.tenant("Alpha").await;
    let r = app
        .post("/api/profiles/")
        .token(&a.token)
        .json(json!({"user_name": "clerk", "password": "filing-cabinet-9"}))
        .send()
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let clerk = app.login("clerk", "filing-cabinet-9").await;
    for (method, path) in [
        ("GET", "/api/profiles/"),
        ("POST", "/api/userroles/"),
        ("POST", "/api/projects/"),
    ] {
        let r = app
            .request(method.parse().unwrap(), path)
            .token(&clerk)
            .json(json!({"name": "x", "app_id": "x.y"}))
            .send()
            .await;
        assert_eq!(
            r.status,
            StatusCode::FORBIDDEN,
            "{method} {path}: {}",
            r.text()
        );
        assert_eq!(
            r.json()["detail"],
            "You do not have permission to perform this action."
        );
    }
    // But the clerk reads its own profile.
    assert_eq!(
        app.get("/api/profiles/me/")
            .token(&clerk)
            .send()
            .await
            .status,
        StatusCode::OK
    );
});

api_test!(session_login_and_csrf, async |app: &TestApp| {
    let a = app.tenant("Alpha").await;
    let r = app
        .post("/login/")
        .json(json!({"username": a.username, "password": PASSWORD}))
        .send()
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let cookies = r.cookies();
    let session = cookies
        .iter()
        .find(|c| c.starts_with("sessionid="))
        .unwrap();
    assert!(session.contains("HttpOnly"));
    let session_value = session.split(';').next().unwrap().to_string();
    let csrf = r.json()["csrf_token"].as_str().unwrap().to_string();

    let r = app
        .get("/api/profiles/me/")
        .header("cookie", &session_value)
        .send()
        .await;
    assert_eq!(r.status, StatusCode::OK);
    // A cookie-authenticated write without the CSRF header is refused...
    let r = app
        .post("/api/userroles/")
        .header("cookie", &session_value)
        .json(json!({"name": "r"}))
        .send()
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text());
    assert!(r.json()["detail"].as_str().unwrap().contains("CSRF"));
    // ...and accepted with it.
    let r = app
        .post("/api/userroles/")
        .header("cookie", &session_value)
        .header("x-csrftoken", &csrf)
        .json(json!({"name": "r"}))
        .send()
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    // Logout ends the session.
    let r = app
        .post("/logout/")
        .header("cookie", &session_value)
        .send()
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let r = app
        .get("/api/profiles/me/")
        .header("cookie", &session_value)
        .send()
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
});

api_test!(health_and_openapi, async |app: &TestApp| {
    for path in ["/_health/", "/health/"] {
        let r = app.get(path).send().await;
        assert_eq!(r.status, StatusCode::OK);
        let body = r.json();
        assert_eq!(body["up"], "ok");
        assert_eq!(body["account_count"], 0);
        assert!(
            body["VERSION"].is_string()
                && body["env"].is_string()
                && body["DEPLOYED_ON"].is_string()
        );
    }
    let doc = app.get("/api/openapi.json").send().await.json();
    assert!(doc["paths"]["/api/profiles/me/"]["get"].is_object());
    assert!(doc["paths"]["/api/token/"]["post"].is_object());
    let r = app.get("/api/nothing-here/").send().await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.json()["detail"], "Not found.");
});

api_test!(password_reset_by_mail, async |app: &TestApp| {
    let a = app.tenant("Alpha").await;
    let r = app
        .post("/api/password_reset/")
        .json(json!({"email": "nobody@example.org"}))
        .send()
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let r = app
        .post("/api/password_reset/")
        .json(json!({"email": format!("{}@example.org", a.username)}))
        .send()
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let dir = app.state.settings.data_dir.join("mails");
    let mails: Vec<_> = std::fs::read_dir(&dir).unwrap().collect();
    assert_eq!(mails.len(), 1, "one mail, for the known address only");
    // The message may be quoted-printable: undo soft line breaks and `=3D`.
    let text = std::fs::read_to_string(mails[0].as_ref().unwrap().path())
        .unwrap()
        .replace("=\r\n", "")
        .replace("=3D", "=");
    let token = text
        .split("token=")
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_string();
    let r = app
        .post("/api/password_reset/confirm/")
        .json(json!({"token": token, "password": "short"}))
        .send()
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    // A password refused for being like the username does not spend the link either.
    let r = app
        .post("/api/password_reset/confirm/")
        .json(json!({"token": token, "password": format!("{}-2024!", a.username)}))
        .send()
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.json()["password"][0]
        .as_str()
        .unwrap()
        .contains("too similar"));
    let r = app
        .post("/api/password_reset/confirm/")
        .json(json!({"token": token, "password": "a-brand-new-passphrase"}))
        .send()
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    app.login(&a.username, "a-brand-new-passphrase").await;
    let r = app
        .post("/api/password_reset/confirm/")
        .json(json!({"token": token, "password": "yet-another-passphrase"}))
        .send()
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "tokens are single-use");
});
