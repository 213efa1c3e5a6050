//! The web dashboard: the files of `web/dist` (built by Vite and committed), embedded at build
//! time by `build.rs` and served as the router's fallback.
//!
//! - `/assets/*` (content-hashed names): cached for a year, `immutable`.
//! - Other files (`/favicon.svg`, ...): `no-cache` with an ETag.
//! - `/` and client-side routes (`/users`, `/reset-password/?token=...`): `index.html`, with the
//!   configured title, favicon and colours written in. A client route is any GET outside `/api/`
//!   that is no file and whose `Accept` asks for HTML (a browser navigating); API clients asking
//!   for a missing path still get the JSON 404.
//! - gzip copies (made by `build.rs`) when the client accepts them.
//!
//! Nothing here is in the OpenAPI document: these are not API routes.

use crate::error::ApiError;
use crate::state::AppState;
use crate::Settings;
use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};

/// One embedded file.
pub struct Asset {
    /// URL path, e.g. `/assets/index-3f2a1c.js`.
    pub path: &'static str,
    pub body: &'static [u8],
    /// gzip copy, when compressing saves at least 10 %.
    pub gzip: Option<&'static [u8]>,
    /// Quoted content hash.
    pub etag: &'static str,
}

/// Every file of the dashboard bundle, sorted by path.
pub static ASSETS: &[Asset] = include!(concat!(env!("OUT_DIR"), "/web_assets.rs"));

const INDEX: &str = "/index.html";
const IMMUTABLE: &str = "public, max-age=31536000, immutable";

/// The embedded file at `path`, if any.
pub fn asset(path: &str) -> Option<&'static Asset> {
    ASSETS
        .binary_search_by(|a| a.path.cmp(path))
        .ok()
        .map(|i| &ASSETS[i])
}

/// Content type from the file name.
pub fn content_type(path: &str) -> &'static str {
    let ext = path.rsplit_once('.').map(|(_, e)| e).unwrap_or("");
    match ext {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" | "map" => "application/json",
        "webmanifest" => "application/manifest+json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "ico" => "image/x-icon",
        "woff2" => "font/woff2",
        "woff" => "font/woff",
        "ttf" => "font/ttf",
        "txt" => "text/plain; charset=utf-8",
        "xml" => "application/xml",
        "wasm" => "application/wasm",
        _ => "application/octet-stream",
    }
}

/// The router's fallback: dashboard files and client routes, JSON 404 for the rest.
pub async fn fallback(
    State(state): State<AppState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    if method != Method::GET && method != Method::HEAD {
        return ApiError::NotFound.into_response();
    }
    let path = uri.path();
    if path == "/api" || path.starts_with("/api/") {
        return ApiError::NotFound.into_response();
    }
    let head = method == Method::HEAD;
    if path == "/" || path == INDEX {
        return index(&state.settings, &headers, head);
    }
    if let Some(a) = asset(path) {
        return file(a, &headers, head);
    }
    // A missing file (an old hashed chunk, a typo) is a plain 404, never the HTML page.
    let last = path.rsplit('/').next().unwrap_or("");
    if path.starts_with("/assets/") || last.contains('.') {
        return (
            StatusCode::NOT_FOUND,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            "Not found.",
        )
            .into_response();
    }
    if accepts_html(&headers) {
        return index(&state.settings, &headers, head);
    }
    ApiError::NotFound.into_response()
}

/// `GET` on a path whose only routes take other methods (e.g. `GET /login/`): a browser
/// navigating there gets the dashboard; API clients keep the JSON 405.
pub async fn method_not_allowed(
    State(state): State<AppState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let is_api = uri.path().starts_with("/api/");
    if (method == Method::GET || method == Method::HEAD) && !is_api && accepts_html(&headers) {
        return index(&state.settings, &headers, method == Method::HEAD);
    }
    (
        StatusCode::METHOD_NOT_ALLOWED,
        axum::Json(serde_json::json!({"detail": "Method not allowed."})),
    )
        .into_response()
}

fn accepts_html(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/html"))
}

fn accepts_gzip(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|item| {
            let mut parts = item.split(';');
            let name = parts.next().unwrap_or("").trim();
            let refused = parts.any(|p| {
                let p = p.trim().replace(' ', "");
                p == "q=0" || p == "q=0.0" || p == "q=0.00" || p == "q=0.000"
            });
            (name.eq_ignore_ascii_case("gzip") || name == "*") && !refused
        })
}

fn not_modified(headers: &HeaderMap, etag: &str) -> bool {
    headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"))
}

fn file(a: &'static Asset, headers: &HeaderMap, head: bool) -> Response {
    let cache = if a.path.starts_with("/assets/") {
        IMMUTABLE
    } else {
        "no-cache"
    };
    let mut builder = Response::builder()
        .header(header::CACHE_CONTROL, cache)
        .header(header::ETAG, a.etag)
        .header(header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    if a.gzip.is_some() {
        builder = builder.header(header::VARY, "Accept-Encoding");
    }
    if not_modified(headers, a.etag) {
        return builder
            .status(StatusCode::NOT_MODIFIED)
            .body(Body::empty())
            .unwrap_or_else(|_| StatusCode::NOT_MODIFIED.into_response());
    }
    builder = builder.header(header::CONTENT_TYPE, content_type(a.path));
    let body: &'static [u8] = match a.gzip {
        Some(gz) if accepts_gzip(headers) => {
            builder = builder.header(header::CONTENT_ENCODING, "gzip");
            gz
        }
        _ => a.body,
    };
    builder = builder.header(header::CONTENT_LENGTH, body.len());
    builder
        .body(if head {
            Body::empty()
        } else {
            Body::from(body)
        })
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

/// `index.html` with the configured theme written in, so that the first paint already has the
/// right title, favicon and colours. Small and never cached (it names the current bundle).
fn index(settings: &Settings, headers: &HeaderMap, head: bool) -> Response {
    let html = render_index(settings);
    let etag = format!("\"{:016x}\"", fnv1a(html.as_bytes()));
    let mut builder = Response::builder()
        .header(header::CACHE_CONTROL, "no-cache")
        .header(header::ETAG, &etag)
        .header(header::X_CONTENT_TYPE_OPTIONS, "nosniff")
        .header(header::REFERRER_POLICY, "same-origin")
        // No framing by other sites (clickjacking); the dashboard may frame itself.
        .header(header::X_FRAME_OPTIONS, "SAMEORIGIN");
    if not_modified(headers, &etag) {
        return builder
            .status(StatusCode::NOT_MODIFIED)
            .body(Body::empty())
            .unwrap_or_else(|_| StatusCode::NOT_MODIFIED.into_response());
    }
    builder = builder.header(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    builder
        .body(if head {
            Body::empty()
        } else {
            Body::from(html)
        })
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

/// The bundle's `index.html` with title, favicon and theme colours from `settings`.
pub fn render_index(settings: &Settings) -> String {
    let Some(a) = asset(INDEX) else {
        return NO_BUNDLE.to_string();
    };
    let mut html = String::from_utf8_lossy(a.body).into_owned();
    html = html.replacen(
        "<title>Iaso</title>",
        &format!("<title>{}</title>", escape_html(&settings.app_title)),
        1,
    );
    if !settings.favicon_url.is_empty() {
        html = html.replacen(
            "href=\"/favicon.svg\"",
            &format!("href=\"{}\"", escape_html(&settings.favicon_url)),
            1,
        );
    }
    let colours = [
        ("--primary", &settings.theme_primary_color),
        ("--secondary", &settings.theme_secondary_color),
        ("--primary-bg", &settings.theme_primary_background_color),
    ];
    let vars: String = colours
        .iter()
        .filter(|(_, v)| crate::settings::valid_hex_color(v))
        .map(|(k, v)| format!("{k}:{v};"))
        .collect();
    html.replacen(
        "</head>",
        &format!("<style id=\"iaso-theme\">:root{{{vars}}}</style></head>"),
        1,
    )
}

fn escape_html(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

const NO_BUNDLE: &str = "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
<title>Iaso</title></head><body><h1>The dashboard was not built into this binary</h1>\
<p>web/dist was missing when iaso was compiled. Run <code>cd web &amp;&amp; npm ci &amp;&amp; \
npm run build</code>, then rebuild iaso. The API works: see <a href=\"/api/openapi.json\">\
/api/openapi.json</a>.</p></body></html>";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assets_are_sorted_for_binary_search() {
        assert!(ASSETS.windows(2).all(|w| w[0].path < w[1].path));
    }

    #[test]
    fn gzip_negotiation() {
        let mut h = HeaderMap::new();
        assert!(!accepts_gzip(&h));
        h.insert(
            header::ACCEPT_ENCODING,
            HeaderValue::from_static("gzip, deflate, br"),
        );
        assert!(accepts_gzip(&h));
        h.insert(
            header::ACCEPT_ENCODING,
            HeaderValue::from_static("br, gzip;q=0"),
        );
        assert!(!accepts_gzip(&h));
        h.insert(header::ACCEPT_ENCODING, HeaderValue::from_static("*"));
        assert!(accepts_gzip(&h));
    }

    #[test]
    fn theme_is_written_into_index() {
        let settings = Settings {
            app_title: "Carte <Santé>".into(),
            favicon_url: "https://example.org/f.png".into(),
            theme_primary_color: "#123456".into(),
            ..Settings::default()
        };
        let html = render_index(&settings);
        if asset(INDEX).is_some() {
            assert!(
                html.contains("<title>Carte &lt;Santé&gt;</title>"),
                "{html}"
            );
            assert!(
                html.contains("href=\"https://example.org/f.png\""),
                "{html}"
            );
            assert!(html.contains("--primary:#123456;"), "{html}");
        }
    }

    #[test]
    fn content_types() {
        assert_eq!(content_type("/a/b.js"), "text/javascript; charset=utf-8");
        assert_eq!(content_type("/x.svg"), "image/svg+xml");
        assert_eq!(content_type("/noext"), "application/octet-stream");
    }
}
