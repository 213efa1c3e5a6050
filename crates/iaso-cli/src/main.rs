//! `iaso`: the georegistry and data-collection server and its administration commands.

mod commands;
mod config;

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "iaso",
    version,
    about = "Georegistry and field data collection, compatible with Iaso's API",
    long_about = "Georegistry and field data collection, compatible with Iaso's API.\n\n\
        Settings come from defaults, then an optional TOML file (--config, or IASO_CONFIG, or ./iaso.toml), \
        then IASO_* environment variables (IASO_BIND, IASO_SECRET_KEY, IASO_DATA_DIR, ...) and DATABASE_URL. \
        Without DATABASE_URL the data lives in a SQLite file in the data folder (./data by default). \
        Run `iaso default-config` to see every setting."
)]
struct Cli {
    /// A TOML settings file.
    #[arg(long, global = true, env = "IASO_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the HTTP server (applies pending migrations first), with a task worker inside.
    Serve(commands::serve::ServeArgs),
    /// Run background tasks (imports, exports, bulk updates) queued by the servers.
    #[command(
        long_about = "Run background tasks (imports, exports, bulk updates) queued by the servers.\n\n\
        Claims queued tasks from the database and runs them until stopped (Ctrl-C or SIGTERM: \
        running tasks get a grace period, then are rolled back and queued again). Several \
        workers, on one machine or many, can share a PostgreSQL database: a task is never run \
        twice at the same time, and a task whose worker died is retried after its lease \
        (task_lease seconds) runs out. On SQLite `iaso serve` already runs a worker; a \
        separate worker works too but finds new tasks by polling (task_poll_interval)."
    )]
    Worker(commands::worker::WorkerArgs),
    /// Apply pending database migrations and exit.
    Migrate,
    /// Create a superuser (or promote an existing user) who can create accounts.
    CreateSuperuser(commands::superuser::SuperuserArgs),
    /// XLSForm tools.
    Xlsform {
        #[command(subcommand)]
        command: commands::xlsform::XlsformCommand,
    },
    /// Print every setting with its default value, as a TOML file to start from.
    DefaultConfig,
    /// Measure the server over HTTP on loopback and print figures (a fresh database each run).
    Bench {
        #[command(subcommand)]
        command: commands::bench::BenchCommand,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Command::Xlsform { command } = &cli.command {
        // Pure conversion: no settings, no database, no async runtime.
        return commands::xlsform::run(command);
    }
    if let Command::DefaultConfig = &cli.command {
        print!("{}", config::default_toml());
        return ExitCode::SUCCESS;
    }
    init_logging();
    let settings = match config::load(cli.config.as_deref()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("iaso: {e:#}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("iaso: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async move {
        match cli.command {
            Command::Serve(args) => commands::serve::run(settings, args).await,
            Command::Worker(args) => commands::worker::run(settings, args).await,
            Command::Migrate => commands::migrate::run(settings).await,
            Command::CreateSuperuser(args) => commands::superuser::run(settings, args).await,
            Command::Bench { command } => commands::bench::run(command).await,
            Command::Xlsform { .. } | Command::DefaultConfig => Ok(()),
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("iaso: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn init_logging() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("IASO_LOG")
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,tower_http=warn"));
    let json = std::env::var("IASO_LOG_FORMAT").is_ok_and(|v| v == "json");
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}
