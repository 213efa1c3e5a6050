//! The dashboard served from the embedded bundle: files, client routes, caching, compression,
//! the theme, and the API's own 404s left alone. Also the session kept across one's own
//! password change.
#![allow(clippy::unwrap_used)]

use axum::http::StatusCode;
use iaso_api::api_test;
use iaso_api::testing::{TestApp, PASSWORD};
use iaso_api::web::{asset, ASSETS};
use serde_json::json;

const HTML: &str = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";

fn header<'a>(r: &'a iaso_api::testing::TestResponse, name: &str) -> &'a str {
    r.headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

/// The entry script named by the committed index.html.
fn entry_script() -> &'static str {
    ASSETS
        .iter()
        .map(|a| a.path)
        .find(|p| p.starts_with("/assets/index-") && p.ends_with(".js"))
        .expect("the committed bundle has an entry script")
}

#[test]
fn the_committed_bundle_is_embedded() {
    let index = asset("/index.html").expect("web/dist/index.html is embedded");
    let html = std::str::from_utf8(index.body).unwrap();
    // web.rs writes the theme into these.
    assert!(html.contains("<title>Iaso</title>"), "{html}");
    assert!(html.contains("href=\"/favicon.svg\""), "{html}");
    assert!(html.contains(entry_script()), "{html}");
    assert!(asset("/favicon.svg").is_some());
}

api_test!(serves_the_dashboard, async |app: &TestApp| {
    // `/` is the dashboard for anyone, browser or not.
    let r = app.get("/").send().await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(header(&r, "content-type"), "text/html; charset=utf-8");
    assert_eq!(header(&r, "cache-control"), "no-cache");
    assert_eq!(header(&r, "x-frame-options"), "SAMEORIGIN");
    assert!(r.text().contains("<div id=\"app\">"));

    // Client routes are index.html for a browser navigating there...
    for path in [
        "/users",
        "/users?page=2",
        "/reset-password/?token=abc",
        "/profile",
    ] {
        let r = app.get(path).header("accept", HTML).send().await;
        assert_eq!(r.status, StatusCode::OK, "{path}");
        assert!(r.text().contains("<div id=\"app\">"), "{path}");
    }
    // ...including paths whose API route takes other methods (the login page).
    let r = app.get("/login/").header("accept", HTML).send().await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.text().contains("<div id=\"app\">"));
    let r = app.get("/login/").send().await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(r.json(), json!({"detail": "Method not allowed."}));

    // API clients keep JSON 404s, browsers too under /api/.
    let r = app
        .get("/users")
        .header("accept", "application/json")
        .send()
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.json(), json!({"detail": "Not found."}));
    let r = app
        .get("/api/nothing-here/")
        .header("accept", HTML)
        .send()
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.json(), json!({"detail": "Not found."}));
    let r = app.post("/somewhere").header("accept", HTML).send().await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.json(), json!({"detail": "Not found."}));

    // A missing file is a plain 404, never the HTML page.
    for path in ["/assets/gone-123.js", "/robots.txt"] {
        let r = app.get(path).header("accept", HTML).send().await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{path}");
        assert!(!r.text().contains("<div id=\"app\">"), "{path}");
    }
});

api_test!(
    hashed_assets_are_cached_and_compressed,
    async |app: &TestApp| {
        let js = entry_script();
        let r = app.get(js).send().await;
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(header(&r, "content-type"), "text/javascript; charset=utf-8");
        assert_eq!(
            header(&r, "cache-control"),
            "public, max-age=31536000, immutable"
        );
        assert_eq!(header(&r, "x-content-type-options"), "nosniff");
        assert!(header(&r, "content-encoding").is_empty());
        let raw = r.body.clone();
        assert_eq!(raw, asset(js).unwrap().body);

        // gzip when accepted (the vendor chunk is large enough to have a gzip copy).
        let big = ASSETS
            .iter()
            .find(|a| a.gzip.is_some() && a.path.ends_with(".js"))
            .expect("a compressed script");
        let r = app
            .get(big.path)
            .header("accept-encoding", "gzip, deflate, br")
            .send()
            .await;
        assert_eq!(header(&r, "content-encoding"), "gzip");
        assert_eq!(header(&r, "vary"), "Accept-Encoding");
        assert!(r.body.len() < big.body.len());
        assert_eq!(r.body, big.gzip.unwrap());

        // Revalidation.
        let etag = header(&r, "etag").to_string();
        assert!(etag.starts_with('"'));
        let r = app
            .get(big.path)
            .header("if-none-match", &etag)
            .send()
            .await;
        assert_eq!(r.status, StatusCode::NOT_MODIFIED);
        assert!(r.body.is_empty());

        // HEAD answers headers only.
        let r = app
            .request(axum::http::Method::HEAD, js)
            .header("accept", HTML)
            .send()
            .await;
        assert_eq!(r.status, StatusCode::OK);
        assert!(r.body.is_empty());

        let r = app.get("/favicon.svg").send().await;
        assert_eq!(header(&r, "content-type"), "image/svg+xml");
        assert_eq!(header(&r, "cache-control"), "no-cache");
    }
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn theme_from_settings() {
    let Some(app) = TestApp::with_settings(iaso_api::testing::Backend::Sqlite, |s| {
        s.app_title = "Santé & Co".into();
        s.logo_url = "/static/logo.png".into();
        s.favicon_url = "https://cdn.example.org/fav.png".into();
        s.theme_primary_color = "#123456".into();
        s.show_name_with_logo = false;
    })
    .await
    else {
        return;
    };
    let r = app.get("/api/theme/").send().await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        r.json(),
        json!({
            "app_title": "Santé & Co",
            "logo_url": "/static/logo.png",
            "favicon_url": "https://cdn.example.org/fav.png",
            "primary_color": "#123456",
            "secondary_color": "#ff7961",
            "primary_background_color": "#f5f5f5",
            "show_name_with_logo": false,
        })
    );
    let html = app.get("/").send().await.text();
    assert!(html.contains("<title>Santé &amp; Co</title>"), "{html}");
    assert!(
        html.contains("href=\"https://cdn.example.org/fav.png\""),
        "{html}"
    );
    assert!(html.contains("--primary:#123456;"), "{html}");
    app.cleanup().await;
}

#[test]
fn theme_settings_are_checked() {
    let ok = iaso_api::Settings::default();
    assert!(ok.check_theme().is_ok());
    let bad = iaso_api::Settings {
        theme_primary_color: "red; background: url(x)".into(),
        ..Default::default()
    };
    assert!(bad
        .check_theme()
        .unwrap_err()
        .contains("theme_primary_color"));
    let bad = iaso_api::Settings {
        logo_url: "x\" onerror=\"alert(1)".into(),
        ..Default::default()
    };
    assert!(bad.check_theme().unwrap_err().contains("logo_url"));
}

api_test!(
    own_password_change_keeps_the_browser_session,
    async |app: &TestApp| {
        let a = app.tenant("Alpha").await;
        let r = app
            .post("/login/")
            .json(json!({"username": a.username, "password": PASSWORD}))
            .send()
            .await;
        assert_eq!(r.status, StatusCode::OK);
        let session = r
            .cookies()
            .iter()
            .find(|c| c.starts_with("sessionid="))
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .to_string();
        let csrf = r.json()["csrf_token"].as_str().unwrap().to_string();

        let r = app
            .patch("/api/profiles/me/update-password/")
            .header("cookie", &session)
            .header("x-csrftoken", &csrf)
            .json(json!({"password": "a-brand-new-passphrase"}))
            .send()
            .await;
        assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text());
        let cookies = r.cookies();
        let new_session = cookies
            .iter()
            .find(|c| c.starts_with("sessionid="))
            .expect("a new session cookie")
            .split(';')
            .next()
            .unwrap()
            .to_string();
        let new_csrf = cookies
            .iter()
            .find(|c| c.starts_with("csrftoken="))
            .expect("a new CSRF cookie")
            .split(';')
            .next()
            .unwrap()
            .trim_start_matches("csrftoken=")
            .to_string();
        assert_ne!(new_session, session);

        // The old session is gone, the new one works, for reads and writes.
        let r = app
            .get("/api/profiles/me/")
            .header("cookie", &session)
            .send()
            .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
        let r = app
            .get("/api/profiles/me/")
            .header("cookie", &new_session)
            .send()
            .await;
        assert_eq!(r.status, StatusCode::OK);
        let r = app
            .patch("/api/profiles/me/")
            .header("cookie", &new_session)
            .header("x-csrftoken", &new_csrf)
            .json(json!({"language": "fr"}))
            .send()
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());

        // Tokens issued before are revoked as always, and the new password logs in.
        let r = app.get("/api/profiles/me/").token(&a.token).send().await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
        app.login(&a.username, "a-brand-new-passphrase").await;

        // A token-authenticated change sets no cookie.
        let token = app.login(&a.username, "a-brand-new-passphrase").await;
        let r = app
            .patch("/api/profiles/me/update-password/")
            .token(&token)
            .json(json!({"password": "yet-another-passphrase"}))
            .send()
            .await;
        assert_eq!(r.status, StatusCode::NO_CONTENT);
        assert!(r.cookies().is_empty());
    }
);
