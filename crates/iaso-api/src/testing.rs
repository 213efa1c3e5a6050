//! An in-process application on a fresh database, for API tests on both backends, and the
//! tenancy harness every tenant-scoped endpoint registers in.
//!
//! ```ignore
//! iaso_api::api_test!(creates_a_role, async |app: &TestApp| {
//!     let a = app.tenant("A").await;
//!     let r = app.post("/api/userroles/").token(&a.token).json(json!({"name": "x"})).send().await;
//!     assert_eq!(r.status, 201, "{}", r.text());
//! });
//! ```

use crate::{AppState, Settings};
use axum::body::Body;
use axum::http::{header, HeaderMap, Method, Request, StatusCode};
use axum::Router;
use futures::future::BoxFuture;
use http_body_util::BodyExt;
use iaso_db::testing::TestDatabase;
pub use iaso_db::Backend;
use iaso_domain::password::HashCost;
use iaso_domain::{AccountId, Module, ProjectId, UserId};
use iaso_store::setup::NewAccount;
use iaso_store::users::NewUser;
use iaso_store::Store;
use serde_json::Value;
use tower::ServiceExt;

/// The password of every user the harness creates.
pub const PASSWORD: &str = "correct-horse-battery";

pub struct TestApp {
    pub state: AppState,
    router: Router,
    database: TestDatabase,
    _data_dir: tempfile::TempDir,
}

/// An account with an administrator holding every permission of its modules.
#[derive(Debug, Clone)]
pub struct Tenant {
    pub account_id: AccountId,
    pub project_id: ProjectId,
    pub user_id: UserId,
    pub username: String,
    pub token: String,
}

impl TestApp {
    /// A fresh application on `backend`; `None` when PostgreSQL tests are skipped.
    pub async fn new(backend: Backend) -> Option<TestApp> {
        Self::with_settings(backend, |_| {}).await
    }

    pub async fn with_settings(
        backend: Backend,
        adjust: impl FnOnce(&mut Settings),
    ) -> Option<TestApp> {
        let database = iaso_db::testing::fresh(backend, iaso_store::migrations::MIGRATIONS).await?;
        let data_dir = tempfile::tempdir().expect("temp data dir");
        let mut settings = Settings {
            secret_key: "test-secret-key-of-at-least-32-characters".into(),
            data_dir: data_dir.path().to_path_buf(),
            hash_cost: Some(HashCost::Fast),
            mail_mode: "folder".into(),
            mail_folder: Some(data_dir.path().join("mails")),
            ..Settings::default()
        };
        adjust(&mut settings);
        let state =
            AppState::new(Store::new(database.db.clone()), settings).expect("test settings");
        let router = crate::router(state.clone());
        Some(TestApp {
            state,
            router,
            database,
            _data_dir: data_dir,
        })
    }

    pub fn store(&self) -> &Store {
        &self.state.store
    }

    /// A worker on this application's queue and files, running every task type, with
    /// intervals suited to tests: `let w = app.worker().spawn(); ... w.shutdown().await;`.
    pub fn worker(&self) -> iaso_tasks::Worker {
        self.worker_with(|_| {})
    }

    pub fn worker_with(
        &self,
        adjust: impl FnOnce(&mut iaso_tasks::WorkerConfig),
    ) -> iaso_tasks::Worker {
        let mut config = iaso_tasks::WorkerConfig {
            concurrency: 2,
            poll_interval: std::time::Duration::from_secs(3600),
            progress_interval: std::time::Duration::ZERO,
            sweep_interval: std::time::Duration::from_millis(100),
            retry_delay: std::time::Duration::ZERO,
            shutdown_grace: std::time::Duration::from_secs(10),
            name: "test-worker".into(),
            ..iaso_tasks::WorkerConfig::default()
        };
        adjust(&mut config);
        iaso_tasks::Worker::new(
            self.state.tasks.clone(),
            self.state.files.clone(),
            crate::state::task_registry(),
            config,
        )
    }

    /// Creates an account (all modules) with its administrator, and logs the administrator in.
    pub async fn tenant(&self, name: &str) -> Tenant {
        let username = format!("{}_admin", name.to_lowercase().replace(' ', "_"));
        let setup = self
            .store()
            .setup_account(&NewAccount {
                account_name: name.into(),
                user: NewUser {
                    username: username.clone(),
                    password_hash: self.state.hasher.hash(PASSWORD),
                    email: format!("{username}@example.org"),
                    ..Default::default()
                },
                modules: Module::ALL.to_vec(),
                language: Some("en".into()),
            })
            .await
            .expect("setup account");
        let token = self.login(&username, PASSWORD).await;
        Tenant {
            account_id: setup.account.id,
            project_id: setup.project_id,
            user_id: setup.user.id,
            username,
            token,
        }
    }

    /// An access token for a username and password (panics when refused).
    pub async fn login(&self, username: &str, password: &str) -> String {
        let r = self
            .post("/api/token/")
            .json(serde_json::json!({"username": username, "password": password}))
            .send()
            .await;
        assert_eq!(
            r.status,
            StatusCode::OK,
            "login of {username} refused: {}",
            r.text()
        );
        r.json()["access"]
            .as_str()
            .expect("access token")
            .to_string()
    }

    pub fn request(&self, method: Method, path: &str) -> TestRequest<'_> {
        TestRequest {
            app: self,
            method,
            path: path.to_string(),
            headers: HeaderMap::new(),
            body: Vec::new(),
        }
    }

    pub fn get(&self, path: &str) -> TestRequest<'_> {
        self.request(Method::GET, path)
    }

    pub fn post(&self, path: &str) -> TestRequest<'_> {
        self.request(Method::POST, path)
    }

    pub fn patch(&self, path: &str) -> TestRequest<'_> {
        self.request(Method::PATCH, path)
    }

    pub fn put(&self, path: &str) -> TestRequest<'_> {
        self.request(Method::PUT, path)
    }

    pub fn delete(&self, path: &str) -> TestRequest<'_> {
        self.request(Method::DELETE, path)
    }

    pub async fn cleanup(self) {
        self.database.cleanup().await;
    }
}

pub struct TestRequest<'a> {
    app: &'a TestApp,
    method: Method,
    path: String,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl TestRequest<'_> {
    pub fn token(mut self, token: &str) -> Self {
        if let Ok(v) = format!("Bearer {token}").parse() {
            self.headers.insert(header::AUTHORIZATION, v);
        }
        self
    }

    pub fn header(mut self, name: &'static str, value: &str) -> Self {
        if let Ok(v) = value.parse() {
            self.headers.insert(name, v);
        }
        self
    }

    pub fn json(mut self, body: Value) -> Self {
        self.headers.insert(
            header::CONTENT_TYPE,
            header::HeaderValue::from_static("application/json"),
        );
        self.body = serde_json::to_vec(&body).unwrap_or_default();
        self
    }

    /// A raw body with its content type (malformed JSON, forms, files).
    pub fn body(mut self, content_type: &str, body: impl Into<Vec<u8>>) -> Self {
        if let Ok(v) = content_type.parse() {
            self.headers.insert(header::CONTENT_TYPE, v);
        }
        self.body = body.into();
        self
    }

    pub async fn send(self) -> TestResponse {
        let mut builder = Request::builder().method(self.method).uri(&self.path);
        for (name, value) in &self.headers {
            builder = builder.header(name, value);
        }
        let request = builder
            .body(Body::from(self.body))
            .expect("valid test request");
        let response = self
            .app
            .router
            .clone()
            .oneshot(request)
            .await
            .expect("router is infallible");
        let status = response.status();
        let headers = response.headers().clone();
        let body = response
            .into_body()
            .collect()
            .await
            .expect("read body")
            .to_bytes()
            .to_vec();
        TestResponse {
            status,
            headers,
            body,
        }
    }
}

pub struct TestResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl TestResponse {
    /// The body as JSON (panics with the body text when it is not JSON).
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("response is not JSON ({e}): {}", self.text()))
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// Values of every `Set-Cookie` header.
    pub fn cookies(&self) -> Vec<String> {
        self.headers
            .get_all(header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .map(String::from)
            .collect()
    }
}

/// Declares `name::sqlite` and `name::postgres`, each running `body` on a fresh [`TestApp`].
#[macro_export]
macro_rules! api_test {
    ($name:ident, $body:expr) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                $crate::testing::run($crate::testing::Backend::Sqlite, $body).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                $crate::testing::run($crate::testing::Backend::Postgres, $body).await;
            }
        }
    };
}

/// Runs `body` on a fresh application and drops its database afterwards.
pub async fn run<F>(backend: Backend, body: F)
where
    F: AsyncFnOnce(&TestApp),
{
    let Some(app) = TestApp::new(backend).await else {
        return;
    };
    body(&app).await;
    app.cleanup().await;
}

/// A tenant-scoped resource as the tenancy harness exercises it.
pub struct TenantResource {
    pub name: &'static str,
    /// List endpoint (`GET`), if any, and the key of its results.
    pub list: Option<(&'static str, &'static str)>,
    /// Detail endpoint with `{id}` in place of the object id.
    pub detail: &'static str,
    /// Creates one object in the tenant through the API and returns its id.
    pub create: for<'a> fn(&'a TestApp, &'a Tenant) -> BoxFuture<'a, i64>,
    /// A write that must be refused across tenants (method and body), if the resource has one.
    pub update: Option<(Method, fn() -> Value)>,
    /// Whether the resource can be deleted.
    pub delete: bool,
}

/// Asserts that tenant A can neither list, read, change nor delete tenant B's object of each
/// resource, and that B's object is unchanged afterwards.
pub async fn assert_isolated(app: &TestApp, resources: &[TenantResource]) {
    let a = app.tenant("Tenant A").await;
    let b = app.tenant("Tenant B").await;
    for r in resources {
        let id = (r.create)(app, &b).await;
        let detail = r.detail.replace("{id}", &id.to_string());
        let before = app.get(&detail).token(&b.token).send().await;
        assert_eq!(
            before.status,
            StatusCode::OK,
            "{}: B cannot read its own object: {}",
            r.name,
            before.text()
        );

        if let Some((list, key)) = r.list {
            let res = app.get(list).token(&a.token).send().await;
            assert_eq!(
                res.status,
                StatusCode::OK,
                "{}: A's list failed: {}",
                r.name,
                res.text()
            );
            let body = res.json();
            let items = body[key]
                .as_array()
                .unwrap_or_else(|| panic!("{}: no {key:?} in {body}", r.name));
            assert!(
                !items.iter().any(|i| i["id"].as_i64() == Some(id)),
                "{}: A's list shows B's object {id}",
                r.name
            );
        }
        let res = app.get(&detail).token(&a.token).send().await;
        assert_eq!(
            res.status,
            StatusCode::NOT_FOUND,
            "{}: A reads B's object: {}",
            r.name,
            res.text()
        );
        if let Some((method, body)) = &r.update {
            let res = app
                .request(method.clone(), &detail)
                .token(&a.token)
                .json(body())
                .send()
                .await;
            assert_eq!(
                res.status,
                StatusCode::NOT_FOUND,
                "{}: A changes B's object: {}",
                r.name,
                res.text()
            );
        }
        if r.delete {
            let res = app.delete(&detail).token(&a.token).send().await;
            assert_eq!(
                res.status,
                StatusCode::NOT_FOUND,
                "{}: A deletes B's object: {}",
                r.name,
                res.text()
            );
        }
        let after = app.get(&detail).token(&b.token).send().await;
        assert_eq!(
            after.status,
            StatusCode::OK,
            "{}: B's object is gone",
            r.name
        );
        assert_eq!(
            before.json(),
            after.json(),
            "{}: B's object changed",
            r.name
        );
    }
}
