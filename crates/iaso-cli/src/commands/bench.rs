//! `iaso bench`: measures the server through real HTTP on loopback (not a test: it reports
//! figures). The server runs in this process on a fresh database: a temporary SQLite file, or a
//! new PostgreSQL database when `--postgres-admin-url` is given.

use anyhow::Context;
use clap::{Args, Subcommand};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use iaso_api::{AppState, Settings};
use iaso_domain::password::{HashCost, PasswordHasher};
use iaso_domain::Module;
use iaso_store::setup::NewAccount;
use iaso_store::users::NewUser;
use iaso_store::{DbOptions, Store};
use std::time::{Duration, Instant};

#[derive(Subcommand)]
pub enum BenchCommand {
    /// Token issuance (`POST /api/token/`) and authenticated `GET /api/profiles/me/`.
    Auth(BenchArgs),
}

#[derive(Args, Clone)]
pub struct BenchArgs {
    /// Concurrent clients.
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
    /// Seconds per scenario.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Run on a new database created on this PostgreSQL server (user must be allowed to
    /// create databases), e.g. postgres://iaso@127.0.0.1:5432/postgres. Default: SQLite.
    #[arg(long)]
    postgres_admin_url: Option<String>,
}

pub async fn run(command: BenchCommand) -> anyhow::Result<()> {
    match command {
        BenchCommand::Auth(args) => auth(args).await,
    }
}

/// A database for the benchmark and how to drop it afterwards.
struct BenchDb {
    url: String,
    drop_pg: Option<(String, String)>,
    _dir: tempfile::TempDir,
}

async fn bench_db(args: &BenchArgs) -> anyhow::Result<BenchDb> {
    let dir = tempfile::tempdir()?;
    match &args.postgres_admin_url {
        None => Ok(BenchDb {
            url: format!("sqlite:{}", dir.path().join("bench.sqlite3").display()),
            drop_pg: None,
            _dir: dir,
        }),
        Some(admin) => {
            let name = format!("iaso_bench_{}", std::process::id());
            let db = iaso_db::Db::connect(admin, &DbOptions::default()).await?;
            db.execute_script(&format!("DROP DATABASE IF EXISTS \"{name}\""))
                .await?;
            db.execute_script(&format!("CREATE DATABASE \"{name}\""))
                .await?;
            db.close().await;
            let mut url = url_with_db(admin, &name)?;
            if url.ends_with('/') {
                url.pop();
            }
            Ok(BenchDb {
                url,
                drop_pg: Some((admin.clone(), name)),
                _dir: dir,
            })
        }
    }
}

fn url_with_db(admin: &str, name: &str) -> anyhow::Result<String> {
    let (base, _) = admin
        .rsplit_once('/')
        .context("the PostgreSQL URL has no database part")?;
    Ok(format!("{base}/{name}"))
}

struct Stats {
    requests: usize,
    errors: usize,
    elapsed: Duration,
    latencies: Vec<Duration>,
}

impl Stats {
    fn report(&mut self, label: &str) {
        self.latencies.sort();
        let pct = |p: f64| {
            let i = ((self.latencies.len() as f64 * p).ceil() as usize).saturating_sub(1);
            self.latencies
                .get(i)
                .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
        };
        println!(
            "{label:<28} {:>9.1} req/s   p50 {:>7.2} ms   p95 {:>7.2} ms   ({} requests, {} errors)",
            self.requests as f64 / self.elapsed.as_secs_f64(),
            pct(0.50),
            pct(0.95),
            self.requests,
            self.errors
        );
    }
}

type HttpClient = Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>>;

async fn hammer(
    client: HttpClient,
    args: &BenchArgs,
    make: impl Fn() -> hyper::Request<Full<Bytes>> + Clone + Send + 'static,
) -> Stats {
    let deadline = Instant::now() + Duration::from_secs(args.seconds);
    let start = Instant::now();
    let mut handles = Vec::new();
    for _ in 0..args.concurrency {
        let client = client.clone();
        let make = make.clone();
        handles.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut errors = 0;
            while Instant::now() < deadline {
                let t = Instant::now();
                match client.request(make()).await {
                    Ok(resp) => {
                        let ok = resp.status().is_success();
                        let _ = resp.into_body().collect().await;
                        if ok {
                            lat.push(t.elapsed());
                        } else {
                            errors += 1;
                        }
                    }
                    Err(_) => errors += 1,
                }
            }
            (lat, errors)
        }));
    }
    let mut stats = Stats {
        requests: 0,
        errors: 0,
        elapsed: Duration::ZERO,
        latencies: Vec::new(),
    };
    for h in handles {
        if let Ok((lat, errors)) = h.await {
            stats.requests += lat.len();
            stats.errors += errors;
            stats.latencies.extend(lat);
        }
    }
    stats.elapsed = start.elapsed();
    stats
}

async fn auth(args: BenchArgs) -> anyhow::Result<()> {
    let bench_db = bench_db(&args).await?;
    let store = Store::open(
        &bench_db.url,
        &DbOptions {
            max_connections: 16,
            ..DbOptions::default()
        },
    )
    .await?;
    let password = "bench-passphrase-1";
    let hasher = PasswordHasher::new(HashCost::Standard);
    store
        .setup_account(&NewAccount {
            account_name: "Bench".into(),
            user: NewUser {
                username: "bench".into(),
                password_hash: hasher.hash(password),
                ..Default::default()
            },
            modules: Module::ALL.to_vec(),
            language: None,
        })
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let dir = tempfile::tempdir()?;
    let settings = Settings {
        secret_key: iaso_domain::password::random_token(32),
        data_dir: dir.path().to_path_buf(),
        login_max_failures: i64::MAX,
        ..Settings::default()
    };
    let backend = store.backend();
    let app = iaso_api::router(AppState::new(store.clone(), settings)?);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(iaso_api::serve(listener, app, async move {
        let _ = stop_rx.await;
    }));

    let client: HttpClient = Client::builder(TokioExecutor::new()).build_http();
    let body = serde_json::json!({"username": "bench", "password": password}).to_string();
    let token_uri = format!("http://{addr}/api/token/");
    let make_token = {
        let body = body.clone();
        move || {
            hyper::Request::post(token_uri.clone())
                .header("content-type", "application/json")
                .body(Full::new(Bytes::from(body.clone())))
                .unwrap_or_default()
        }
    };
    // One token for the profile scenario.
    let resp = client.request(make_token()).await?;
    let bytes = resp.into_body().collect().await?.to_bytes();
    let access = serde_json::from_slice::<serde_json::Value>(&bytes)?["access"]
        .as_str()
        .context("no access token")?
        .to_string();

    println!(
        "iaso bench auth: {} backend, {} clients, {} s per scenario, {} cores",
        backend.name(),
        args.concurrency,
        args.seconds,
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    hammer(client.clone(), &args, make_token)
        .await
        .report("POST /api/token/");
    let me_uri = format!("http://{addr}/api/profiles/me/");
    let make_me = move || {
        hyper::Request::get(me_uri.clone())
            .header("authorization", format!("Bearer {access}"))
            .body(Full::new(Bytes::new()))
            .unwrap_or_default()
    };
    hammer(client, &args, make_me)
        .await
        .report("GET /api/profiles/me/");

    let _ = stop_tx.send(());
    let _ = server.await;
    store.db().close().await;
    if let Some((admin, name)) = bench_db.drop_pg {
        let db = iaso_db::Db::connect(&admin, &DbOptions::default()).await?;
        db.execute_script(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
            .await?;
        db.close().await;
    }
    Ok(())
}
