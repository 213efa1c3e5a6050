use anyhow::Context;
use clap::Args;
use iaso_api::{AppState, Settings};
use std::net::SocketAddr;

#[derive(Args)]
pub struct ServeArgs {
    /// Address to listen on (default 127.0.0.1:8081, or IASO_BIND).
    #[arg(long)]
    bind: Option<SocketAddr>,
    /// On an empty database, create a demo account, project and user and print the login.
    #[arg(long)]
    demo: bool,
    /// Do not run background tasks in this process (then run `iaso worker` separately, or
    /// tasks stay queued). By default the server runs a worker itself, so that one command is
    /// enough.
    #[arg(long)]
    no_worker: bool,
}

pub async fn run(mut settings: Settings, args: ServeArgs) -> anyhow::Result<()> {
    if let Some(bind) = args.bind {
        settings.bind = bind;
    }
    let store = super::open_store(&settings).await?;
    if args.demo {
        super::demo::seed(&store, &settings).await?;
    }
    let bind = settings.bind;
    let run_worker = settings.serve_worker && !args.no_worker;
    let worker_config = settings.worker_config();
    let state = AppState::new(store, settings).context("invalid settings")?;
    let worker = run_worker.then(|| {
        iaso_tasks::Worker::new(
            state.tasks.clone(),
            state.files.clone(),
            iaso_api::state::task_registry(),
            worker_config,
        )
        .spawn()
    });
    let app = iaso_api::router(state);
    let listener = tokio::net::TcpListener::bind(bind)
        .await
        .with_context(|| format!("cannot listen on {bind}"))?;
    tracing::info!("listening on http://{bind}");
    println!("iaso is listening on http://{bind} (health: http://{bind}/_health/)");
    iaso_api::serve(listener, app, shutdown_signal())
        .await
        .context("the server stopped with an error")?;
    if let Some(worker) = worker {
        worker.shutdown().await;
    }
    tracing::info!("stopped");
    Ok(())
}

pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}
