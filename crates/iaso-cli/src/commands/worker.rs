use anyhow::Context;
use clap::Args;
use iaso_api::Settings;
use iaso_tasks::{FileStore, TaskQueue, Worker};

#[derive(Args)]
pub struct WorkerArgs {
    /// How many tasks to run at the same time (default: worker_concurrency, 2).
    #[arg(long, short = 'c')]
    concurrency: Option<usize>,
}

pub async fn run(settings: Settings, args: WorkerArgs) -> anyhow::Result<()> {
    let store = super::open_store(&settings).await?;
    let files = FileStore::from_settings(&settings.file_settings(), &settings.data_dir)
        .context("invalid file storage settings")?;
    let mut config = settings.worker_config();
    if let Some(n) = args.concurrency {
        anyhow::ensure!(n >= 1, "--concurrency must be at least 1");
        config.concurrency = n;
    }
    let registry = iaso_api::state::task_registry();
    println!(
        "iaso worker {} running up to {} tasks at a time ({}); Ctrl-C to stop",
        config.name,
        config.concurrency,
        registry.names().join(", ")
    );
    let queue = TaskQueue::new(store, registry.clone());
    Worker::new(queue, files, registry, config)
        .run_until(super::serve::shutdown_signal())
        .await;
    Ok(())
}
