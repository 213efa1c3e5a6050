use crate::conn::{run_as, run_exec, Conn, FromDbRow};
use crate::{DbError, Result, Sql};
use futures::stream::BoxStream;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{PgConnection, Postgres, Sqlite, SqliteConnection, Transaction};
use std::str::FromStr;
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgresql",
        }
    }
}

/// Pool sizes and timeouts.
#[derive(Debug, Clone)]
pub struct DbOptions {
    /// Connections to PostgreSQL, or SQLite reader connections.
    pub max_connections: u32,
    pub acquire_timeout: Duration,
    /// How long a SQLite writer waits for another process's write lock.
    pub busy_timeout: Duration,
}

impl Default for DbOptions {
    fn default() -> Self {
        DbOptions {
            max_connections: 10,
            acquire_timeout: Duration::from_secs(30),
            busy_timeout: Duration::from_secs(15),
        }
    }
}

/// A connection pool on one of the two backends.
///
/// SQLite has a single writer, so it gets two pools on the same file: several read-only
/// connections and one writer. Transactions and every statement that is not a plain `SELECT`
/// go to the writer (transactions start with `BEGIN IMMEDIATE`, which takes the write lock up
/// front instead of failing half-way); `SELECT`s go to the readers, which WAL lets run beside
/// the writer.
#[derive(Clone)]
pub struct Db {
    pools: Pools,
}

#[derive(Clone)]
enum Pools {
    Sqlite { read: SqlitePool, write: SqlitePool },
    Postgres(PgPool),
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Db({})", self.backend().name())
    }
}

impl Db {
    /// Opens `url`: `sqlite:PATH` (created with its parent folder if missing) or
    /// `postgres://user:password@host:port/database`.
    pub async fn connect(url: &str, options: &DbOptions) -> Result<Db> {
        if url.starts_with("sqlite:") {
            Self::connect_sqlite(url, options).await
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let connect = PgConnectOptions::from_str(url)
                .map_err(|e| DbError::BadUrl {
                    url: redact(url),
                    reason: e.to_string(),
                })?
                // JIT compiles every plan PostgreSQL deems expensive (exports, whole-pyramid
                // reads) for ~0.4 s on each execution, which index-driven statements never
                // win back (measured in docs/benchmarks.md).
                .options([("jit", "off")]);
            let pool = PgPoolOptions::new()
                .max_connections(options.max_connections)
                .acquire_timeout(options.acquire_timeout)
                .connect_with(connect)
                .await?;
            Ok(Db {
                pools: Pools::Postgres(pool),
            })
        } else {
            Err(DbError::BadUrl {
                url: redact(url),
                reason: "it must start with sqlite: or postgres://".into(),
            })
        }
    }

    async fn connect_sqlite(url: &str, options: &DbOptions) -> Result<Db> {
        let bad = |reason: String| DbError::BadUrl {
            url: url.to_string(),
            reason,
        };
        if url.contains(":memory:") || url.contains("mode=memory") {
            return Err(bad(
                "in-memory SQLite cannot be shared by the reader and writer pools; use a file"
                    .into(),
            ));
        }
        let connect = SqliteConnectOptions::from_str(url)
            .map_err(|e| bad(e.to_string()))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(options.busy_timeout)
            .pragma("cache_size", "-32000")
            .pragma("temp_store", "memory");
        if let Some(parent) = connect.get_filename().parent() {
            if !parent.as_os_str().is_empty() {
                std::fs::create_dir_all(parent).map_err(|e| {
                    bad(format!(
                        "cannot create the folder {}: {e}",
                        parent.display()
                    ))
                })?;
            }
        }
        // The writer is created first so that the file and WAL mode exist for the readers.
        let write = SqlitePoolOptions::new()
            .max_connections(1)
            .acquire_timeout(options.acquire_timeout)
            .connect_with(connect.clone())
            .await?;
        let read = SqlitePoolOptions::new()
            .max_connections(options.max_connections.max(1))
            .acquire_timeout(options.acquire_timeout)
            .connect_with(connect.read_only(true))
            .await?;
        Ok(Db {
            pools: Pools::Sqlite { read, write },
        })
    }

    /// Opens new pools on the same database, as another process would (tests of concurrent
    /// workers, benchmarks).
    pub async fn connect_again(&self, options: &DbOptions) -> Result<Db> {
        match &self.pools {
            Pools::Sqlite { write, .. } => {
                let path = write.connect_options().get_filename().to_path_buf();
                Self::connect_sqlite(&format!("sqlite:{}", path.display()), options).await
            }
            Pools::Postgres(pool) => {
                let connect = (*pool.connect_options()).clone();
                let pool = PgPoolOptions::new()
                    .max_connections(options.max_connections)
                    .acquire_timeout(options.acquire_timeout)
                    .connect_with(connect)
                    .await?;
                Ok(Db {
                    pools: Pools::Postgres(pool),
                })
            }
        }
    }

    pub fn backend(&self) -> Backend {
        match self.pools {
            Pools::Sqlite { .. } => Backend::Sqlite,
            Pools::Postgres(_) => Backend::Postgres,
        }
    }

    /// Starts a transaction; it rolls back when dropped without [`Tx::commit`].
    pub async fn begin(&self) -> Result<Tx> {
        let inner = match &self.pools {
            Pools::Sqlite { write, .. } => {
                TxInner::Sqlite(write.begin_with("BEGIN IMMEDIATE").await?)
            }
            Pools::Postgres(pool) => TxInner::Postgres(pool.begin().await?),
        };
        Ok(Tx { inner })
    }

    /// True when the database answers a trivial query.
    pub async fn ping(&self) -> bool {
        let mut db = self.clone();
        db.fetch_scalar::<i64>(Sql::new("SELECT 1")).await.is_ok()
    }

    /// Streams rows without holding them all in memory (exports). The stream owns its query and
    /// a handle on the pool, so it can outlive the caller's borrow.
    pub fn stream<T: FromDbRow>(&self, q: Sql) -> BoxStream<'static, Result<T>> {
        use futures::StreamExt;
        let pools = self.pools.clone();
        Box::pin(async_stream::try_stream! {
            match &pools {
                Pools::Sqlite { read, .. } => {
                    let mut query = sqlx::query_as::<_, T>(q.text());
                    for arg in q.args() { query = query.bind(arg); }
                    let mut rows = query.fetch(read);
                    while let Some(row) = rows.next().await { yield row?; }
                }
                Pools::Postgres(pool) => {
                    let mut query = sqlx::query_as::<_, T>(q.text());
                    for arg in q.args() { query = query.bind(arg); }
                    let mut rows = query.fetch(pool);
                    while let Some(row) = rows.next().await { yield row?; }
                }
            }
        })
    }

    /// Runs a multi-statement script without bind values (migrations, test set-up).
    pub async fn execute_script(&self, script: &str) -> Result<()> {
        match &self.pools {
            Pools::Sqlite { write, .. } => {
                sqlx::raw_sql(script).execute(write).await?;
            }
            Pools::Postgres(pool) => {
                sqlx::raw_sql(script).execute(pool).await?;
            }
        }
        Ok(())
    }

    pub fn as_postgres(&self) -> Option<&PgPool> {
        match &self.pools {
            Pools::Postgres(pool) => Some(pool),
            Pools::Sqlite { .. } => None,
        }
    }

    pub async fn close(&self) {
        match &self.pools {
            Pools::Sqlite { read, write } => {
                read.close().await;
                write.close().await;
            }
            Pools::Postgres(pool) => pool.close().await,
        }
    }
}

impl Conn for Db {
    fn backend(&self) -> Backend {
        Db::backend(self)
    }

    async fn fetch_all<T: FromDbRow>(&mut self, q: Sql) -> Result<Vec<T>> {
        match &self.pools {
            Pools::Sqlite { read, write } => {
                run_as!(sqlite_pool_for(&q, read, write), q, fetch_all, T)
            }
            Pools::Postgres(pool) => run_as!(pool, q, fetch_all, T),
        }
    }

    async fn fetch_optional<T: FromDbRow>(&mut self, q: Sql) -> Result<Option<T>> {
        match &self.pools {
            Pools::Sqlite { read, write } => {
                run_as!(sqlite_pool_for(&q, read, write), q, fetch_optional, T)
            }
            Pools::Postgres(pool) => run_as!(pool, q, fetch_optional, T),
        }
    }

    async fn execute(&mut self, q: Sql) -> Result<u64> {
        match &self.pools {
            Pools::Sqlite { write, .. } => run_exec!(write, q),
            Pools::Postgres(pool) => run_exec!(pool, q),
        }
    }
}

/// An open transaction on either backend.
pub struct Tx {
    inner: TxInner,
}

enum TxInner {
    Sqlite(Transaction<'static, Sqlite>),
    Postgres(Transaction<'static, Postgres>),
}

impl Tx {
    pub async fn commit(self) -> Result<()> {
        match self.inner {
            TxInner::Sqlite(tx) => tx.commit().await?,
            TxInner::Postgres(tx) => tx.commit().await?,
        }
        Ok(())
    }

    pub async fn rollback(self) -> Result<()> {
        match self.inner {
            TxInner::Sqlite(tx) => tx.rollback().await?,
            TxInner::Postgres(tx) => tx.rollback().await?,
        }
        Ok(())
    }

    /// Runs a multi-statement script without bind values inside this transaction.
    pub async fn execute_script(&mut self, script: &str) -> std::result::Result<(), sqlx::Error> {
        match &mut self.inner {
            TxInner::Sqlite(tx) => {
                sqlx::raw_sql(script).execute(&mut **tx).await?;
            }
            TxInner::Postgres(tx) => {
                sqlx::raw_sql(script).execute(&mut **tx).await?;
            }
        }
        Ok(())
    }

    /// The raw PostgreSQL connection, for backend-specific work such as `COPY`.
    pub fn as_postgres(&mut self) -> Option<&mut PgConnection> {
        match &mut self.inner {
            TxInner::Postgres(tx) => Some(&mut **tx),
            TxInner::Sqlite(_) => None,
        }
    }

    pub fn as_sqlite(&mut self) -> Option<&mut SqliteConnection> {
        match &mut self.inner {
            TxInner::Sqlite(tx) => Some(&mut **tx),
            TxInner::Postgres(_) => None,
        }
    }
}

impl Conn for Tx {
    fn backend(&self) -> Backend {
        match self.inner {
            TxInner::Sqlite(_) => Backend::Sqlite,
            TxInner::Postgres(_) => Backend::Postgres,
        }
    }

    async fn fetch_all<T: FromDbRow>(&mut self, q: Sql) -> Result<Vec<T>> {
        match &mut self.inner {
            TxInner::Sqlite(tx) => run_as!(&mut **tx, q, fetch_all, T),
            TxInner::Postgres(tx) => run_as!(&mut **tx, q, fetch_all, T),
        }
    }

    async fn fetch_optional<T: FromDbRow>(&mut self, q: Sql) -> Result<Option<T>> {
        match &mut self.inner {
            TxInner::Sqlite(tx) => run_as!(&mut **tx, q, fetch_optional, T),
            TxInner::Postgres(tx) => run_as!(&mut **tx, q, fetch_optional, T),
        }
    }

    async fn execute(&mut self, q: Sql) -> Result<u64> {
        match &mut self.inner {
            TxInner::Sqlite(tx) => run_exec!(&mut **tx, q),
            TxInner::Postgres(tx) => run_exec!(&mut **tx, q),
        }
    }
}

/// A plain `SELECT` goes to the SQLite readers; anything else (`INSERT ... RETURNING`, `WITH`
/// which may hide a write) goes to the writer.
fn sqlite_pool_for<'p>(q: &Sql, read: &'p SqlitePool, write: &'p SqlitePool) -> &'p SqlitePool {
    let head = q.text().trim_start();
    let is_select = head.len() >= 6 && head[..6].eq_ignore_ascii_case("select");
    if is_select {
        read
    } else {
        write
    }
}

/// The URL without its password, for messages and logs.
pub(crate) fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        _ => url.to_string(),
    }
}
