use crate::{Backend, DbError, Result, Sql};
use sqlx::postgres::PgRow;
use sqlx::sqlite::SqliteRow;
use sqlx::FromRow;
use std::future::Future;

/// A row type that decodes from both backends. `#[derive(sqlx::FromRow)]` structs whose fields
/// are portable types (i64, f64, bool, String, chrono timestamps/dates, `Json<T>`, `Option`s of
/// these) get it automatically.
pub trait FromDbRow:
    for<'r> FromRow<'r, SqliteRow> + for<'r> FromRow<'r, PgRow> + Send + Unpin + 'static
{
}

impl<T> FromDbRow for T where
    T: for<'r> FromRow<'r, SqliteRow> + for<'r> FromRow<'r, PgRow> + Send + Unpin + 'static
{
}

/// Something that runs queries: the pool ([`crate::Db`]) or a transaction ([`crate::Tx`]).
/// Storage helpers take `&mut impl Conn` so that they compose inside a caller's transaction.
pub trait Conn: Send {
    fn backend(&self) -> Backend;

    fn fetch_all<T: FromDbRow>(&mut self, q: Sql) -> impl Future<Output = Result<Vec<T>>> + Send;

    fn fetch_optional<T: FromDbRow>(
        &mut self,
        q: Sql,
    ) -> impl Future<Output = Result<Option<T>>> + Send;

    /// Exactly one row expected; none is [`DbError::NotFound`].
    fn fetch_one<T: FromDbRow>(&mut self, q: Sql) -> impl Future<Output = Result<T>> + Send {
        async move { self.fetch_optional(q).await?.ok_or(DbError::NotFound) }
    }

    /// Runs a statement and returns the number of rows it touched.
    fn execute(&mut self, q: Sql) -> impl Future<Output = Result<u64>> + Send;

    /// First column of the single row, e.g. `SELECT COUNT(*) ...`.
    fn fetch_scalar<T>(&mut self, q: Sql) -> impl Future<Output = Result<T>> + Send
    where
        (T,): FromDbRow,
        T: Send,
    {
        async move {
            let (v,): (T,) = self.fetch_one(q).await?;
            Ok(v)
        }
    }
}

/// Builds a `query_as` with every bind value of `$q` and runs `$method` on `$exec`.
macro_rules! run_as {
    ($exec:expr, $q:expr, $method:ident, $T:ty) => {{
        let mut query = sqlx::query_as::<_, $T>($q.text());
        for arg in $q.args() {
            query = query.bind(arg);
        }
        query.$method($exec).await.map_err(crate::DbError::from)
    }};
}

/// Same for statements without rows.
macro_rules! run_exec {
    ($exec:expr, $q:expr) => {{
        let mut query = sqlx::query($q.text());
        for arg in $q.args() {
            query = query.bind(arg);
        }
        query
            .execute($exec)
            .await
            .map(|done| done.rows_affected())
            .map_err(crate::DbError::from)
    }};
}

pub(crate) use {run_as, run_exec};
