//! `iaso bench georegistry`: a synthetic country of `--units` org units on a fresh database
//! (SQLite, or PostgreSQL with `--postgres-admin-url`), served in this process on loopback, then
//! the read scenarios of the perf kit (../shared/perf/load.py) in a closed loop: list page 1 and
//! a deep page, text search, children of an area, detail with ancestors, tree level, bbox map
//! query, and the mobile pyramid (full and delta). Reports req/s, p50/p95 and the peak RSS of
//! this process (server + client; a PostgreSQL server's memory is not included).

use super::bench::{bench_db, hammer, BenchArgs, HttpClient};
use crate::country::{generate, CountrySpec, Rng};
use anyhow::Context;
use clap::Args;
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
use serde_json::Value;
use std::sync::Arc;
use std::time::Instant;

#[derive(Args, Clone)]
pub struct GeoBenchArgs {
    #[command(flatten)]
    pub common: BenchArgs,
    /// Org units of the synthetic country.
    #[arg(long, default_value_t = 100_000)]
    pub units: usize,
    /// Scenarios to run (comma-separated): ou_page1, ou_deep_page, ou_search, ou_children,
    /// ou_detail, tree, bbox_map, mobile_pyramid, mobile_delta; default all.
    #[arg(long)]
    pub only: Option<String>,
}

/// Peak resident memory of this process since the last reset, in MB (Linux).
fn peak_rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

fn reset_peak_rss() {
    // "5" resets VmHWM to the current RSS (Linux ≥ 4.0); ignored elsewhere.
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

async fn get_json(client: &HttpClient, uri: &str, token: &str) -> anyhow::Result<Value> {
    let req = hyper::Request::get(uri)
        .header("authorization", format!("Bearer {token}"))
        .body(Full::new(Bytes::new()))?;
    let resp = client.request(req).await?;
    let status = resp.status();
    let bytes = resp.into_body().collect().await?.to_bytes();
    anyhow::ensure!(
        status.is_success(),
        "{uri}: HTTP {status}: {}",
        String::from_utf8_lossy(&bytes[..bytes.len().min(300)])
    );
    Ok(serde_json::from_slice(&bytes)?)
}

/// Every scenario, as `--only` names them.
const SCENARIOS: [&str; 9] = [
    "ou_page1",
    "ou_deep_page",
    "ou_search",
    "ou_children",
    "ou_detail",
    "tree",
    "bbox_map",
    "mobile_pyramid",
    "mobile_delta",
];

pub async fn run(args: GeoBenchArgs) -> anyhow::Result<()> {
    // Checked before the (long) generation of the country.
    if let Some(only) = &args.only {
        let unknown: Vec<&str> = only
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty() && !SCENARIOS.contains(s))
            .collect();
        anyhow::ensure!(
            unknown.is_empty(),
            "unknown scenario(s) in --only: {}; the scenarios are {}",
            unknown.join(", "),
            SCENARIOS.join(", ")
        );
    }
    let bench_db = bench_db(&args.common).await?;
    let store = Store::open(
        &bench_db.url,
        &DbOptions {
            max_connections: 16,
            ..DbOptions::default()
        },
    )
    .await?;
    let password = "bench-passphrase-1";
    let setup = store
        .setup_account(&NewAccount {
            account_name: "Bench".into(),
            user: NewUser {
                username: "bench".into(),
                password_hash: PasswordHasher::new(HashCost::Standard).hash(password),
                ..Default::default()
            },
            modules: Module::ALL.to_vec(),
            language: None,
        })
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let version = setup
        .account
        .default_version_id
        .context("no default version")?;
    let source = store
        .version(setup.account.id, version)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?
        .data_source_id;
    let report = generate(
        &store,
        setup.account.id,
        setup.project_id,
        source,
        version,
        &CountrySpec {
            units: args.units,
            seed: 1,
            second_version: false,
        },
    )
    .await?;
    println!(
        "iaso bench georegistry: {} backend, {} org units generated in {:.1} s ({:.0} units/s), {} clients, {} s per scenario, {} cores",
        store.backend().name(),
        report.units,
        report.seconds,
        report.units as f64 / report.seconds,
        args.common.concurrency,
        args.common.seconds,
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );

    let dir = tempfile::tempdir()?;
    let settings = Settings {
        secret_key: iaso_domain::password::random_token(32),
        data_dir: dir.path().to_path_buf(),
        login_max_failures: i64::MAX,
        ..Settings::default()
    };
    let app = iaso_api::router(AppState::new(store.clone(), settings)?);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(iaso_api::serve(listener, app, async move {
        let _ = stop_rx.await;
    }));
    let client: HttpClient = Client::builder(TokioExecutor::new()).build_http();
    let base = format!("http://{addr}");
    let body = serde_json::json!({"username": "bench", "password": password}).to_string();
    let resp = client
        .request(
            hyper::Request::post(format!("{base}/api/token/"))
                .header("content-type", "application/json")
                .body(Full::new(Bytes::from(body)))?,
        )
        .await?;
    let bytes = resp.into_body().collect().await?.to_bytes();
    let token: Arc<str> = serde_json::from_slice::<Value>(&bytes)?["access"]
        .as_str()
        .context("no access token")?
        .into();

    // Discovery through the API, as load.py does: ids, names, areas (parents of facilities).
    let v = version.get();
    let first = get_json(
        &client,
        &format!(
            "{base}/api/orgunits/?limit=500&page=1&order=id&validation_status=VALID&version={v}"
        ),
        &token,
    )
    .await?;
    let pages500 = first["pages"].as_i64().unwrap_or(1);
    let mut sample = first["orgunits"].as_array().cloned().unwrap_or_default();
    for p in [pages500 / 3, pages500 / 2, pages500 * 3 / 4, pages500] {
        if p > 1 {
            let page = get_json(&client, &format!("{base}/api/orgunits/?limit=500&page={p}&order=id&validation_status=VALID&version={v}"), &token).await?;
            sample.extend(page["orgunits"].as_array().cloned().unwrap_or_default());
        }
    }
    let ids: Arc<Vec<i64>> = Arc::new(sample.iter().filter_map(|u| u["id"].as_i64()).collect());
    let names: Arc<Vec<String>> = Arc::new(
        sample
            .iter()
            .filter_map(|u| u["name"].as_str())
            .map(|n| n.chars().take(3).collect::<String>())
            .collect(),
    );
    let mut areas: Vec<i64> = sample
        .iter()
        .filter_map(|u| u["parent_id"].as_i64())
        .collect();
    areas.sort_unstable();
    areas.dedup();
    let areas = Arc::new(areas);
    let pages50 = get_json(
        &client,
        &format!("{base}/api/orgunits/?limit=50&page=1&validation_status=VALID&version={v}"),
        &token,
    )
    .await?["pages"]
        .as_i64()
        .unwrap_or(1);
    anyhow::ensure!(
        !ids.is_empty() && !areas.is_empty(),
        "discovery found no org units"
    );

    let only: Option<Vec<String>> = args
        .only
        .as_ref()
        .map(|o| o.split(',').map(|s| s.trim().to_string()).collect());
    let wanted = |name: &str| only.as_ref().is_none_or(|o| o.iter().any(|x| x == name));
    let seq = Arc::new(std::sync::atomic::AtomicU64::new(1));
    let pick = {
        let seq = seq.clone();
        move |n: usize| -> usize {
            let s = seq.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            Rng::new(s).below(n)
        }
    };
    type Make = Arc<dyn Fn() -> String + Send + Sync>;
    let list = format!("{base}/api/orgunits/?limit=50&validation_status=VALID&version={v}");
    let mut scenarios: Vec<(&str, Make)> = Vec::new();
    {
        let l = list.clone();
        scenarios.push(("ou_page1", Arc::new(move || format!("{l}&page=1"))));
    }
    {
        let (l, p) = (list.clone(), pick.clone());
        scenarios.push((
            "ou_deep_page",
            Arc::new(move || format!("{l}&page={}", (pages50 - 4).max(1) + p(5) as i64)),
        ));
    }
    {
        let (l, p, names) = (list.clone(), pick.clone(), names.clone());
        scenarios.push((
            "ou_search",
            Arc::new(move || {
                let n = &names[p(names.len())];
                format!("{l}&page=1&search={}", n.replace(' ', "%20"))
            }),
        ));
    }
    {
        let (l, p, areas) = (list.clone(), pick.clone(), areas.clone());
        scenarios.push((
            "ou_children",
            Arc::new(move || format!("{l}&page=1&orgUnitParentId={}", areas[p(areas.len())])),
        ));
    }
    {
        let (b, p, ids) = (base.clone(), pick.clone(), ids.clone());
        scenarios.push((
            "ou_detail",
            Arc::new(move || format!("{b}/api/orgunits/{}/", ids[p(ids.len())])),
        ));
    }
    {
        let (b, p, areas) = (base.clone(), pick.clone(), areas.clone());
        scenarios.push((
            "tree",
            Arc::new(move || {
                format!(
                    "{b}/api/orgunits/tree/?parent_id={}&validation_status=VALID&version={v}",
                    areas[p(areas.len())]
                )
            }),
        ));
    }
    {
        let (b, p) = (base.clone(), pick.clone());
        scenarios.push((
            "bbox_map",
            Arc::new(move || {
                // A window of 0.2° somewhere in the country (0.5..10.5 × 4.5..14.5).
                let x = 0.5 + p(980) as f64 / 100.0;
                let y = 4.5 + p(980) as f64 / 100.0;
                format!("{b}/api/orgunits/?asLocation=true&limit=500&validation_status=VALID&version={v}&bbox={x},{y},{},{}", x + 0.2, y + 0.2)
            }),
        ));
    }
    println!(
        "{:<16} {:>9} {:>9} {:>9} {:>10} {:>8} {:>11}",
        "scenario", "req/s", "p50 ms", "p95 ms", "requests", "errors", "peak RSS MB"
    );
    for (name, make) in scenarios {
        if !wanted(name) {
            continue;
        }
        reset_peak_rss();
        let token = token.clone();
        let make_req = move || {
            hyper::Request::get(make())
                .header("authorization", format!("Bearer {token}"))
                .body(Full::new(Bytes::new()))
                .unwrap_or_default()
        };
        let mut stats = hammer(client.clone(), &args.common, make_req).await;
        stats.print_row(name, peak_rss_mb());
    }
    // Mobile pyramid: a few full downloads (cold first), then deltas after a few edits.
    if wanted("mobile_pyramid") {
        reset_peak_rss();
        let uri = format!("{base}/api/mobile/orgunits/?app_id=bench");
        let mut times = Vec::new();
        let mut bytes = 0usize;
        for _ in 0..3 {
            let t = Instant::now();
            let req = hyper::Request::get(&uri)
                .header("authorization", format!("Bearer {token}"))
                .body(Full::new(Bytes::new()))?;
            let resp = client.request(req).await?;
            anyhow::ensure!(
                resp.status().is_success(),
                "mobile pyramid: HTTP {}",
                resp.status()
            );
            bytes = resp.into_body().collect().await?.to_bytes().len();
            times.push(t.elapsed().as_secs_f64() * 1000.0);
        }
        println!(
            "{:<16} full download: first {:.0} ms, then {:.0} / {:.0} ms; {:.1} MB; peak RSS {:.0} MB",
            "mobile_pyramid",
            times[0],
            times[1],
            times[2],
            bytes as f64 / 1e6,
            peak_rss_mb().unwrap_or(0.0)
        );
    }
    if wanted("mobile_delta") {
        let since = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
        // Change 20 units through the API.
        for id in ids.iter().take(20) {
            let req = hyper::Request::patch(format!("{base}/api/orgunits/{id}/"))
                .header("authorization", format!("Bearer {token}"))
                .header("content-type", "application/json")
                .body(Full::new(Bytes::from(r#"{"source_ref": "changed"}"#)))?;
            let _ = client.request(req).await?.into_body().collect().await;
        }
        reset_peak_rss();
        let uri = format!("{base}/api/mobile/orgunits/?app_id=bench&last_sync={since}");
        let token = token.clone();
        let make_req = move || {
            hyper::Request::get(uri.clone())
                .header("authorization", format!("Bearer {token}"))
                .body(Full::new(Bytes::new()))
                .unwrap_or_default()
        };
        let mut stats = hammer(client.clone(), &args.common, make_req).await;
        stats.print_row("mobile_delta", peak_rss_mb());
    }
    let _ = stop_tx.send(());
    let _ = server.await;
    store.db().close().await;
    bench_db.drop().await?;
    Ok(())
}
