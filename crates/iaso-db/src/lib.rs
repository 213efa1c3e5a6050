//! Portable SQL layer shared by every storage module.
//!
//! One query text serves both backends: SQL is written once with PostgreSQL-style `$n`
//! placeholders (SQLite accepts them too), values travel as [`Value`], and row structs derive
//! `sqlx::FromRow`, which is generic over the row type and so decodes SQLite and PostgreSQL rows
//! alike. Migrations are written once as templates (see [`migrate`]) and rendered per backend.
//! Where a backend really needs its own SQL (row locking, bulk copy), code matches on
//! [`Backend`] explicitly, so the fork is visible at the call site.

mod conn;
mod db;
mod error;
pub mod migrate;
mod sql;
mod value;

pub use conn::{Conn, FromDbRow};
pub use db::{Backend, Db, DbOptions, Tx};
pub use error::DbError;
pub use sql::Sql;
pub use value::{now, Value};

/// Re-exported so that row structs can `#[derive(iaso_db::sqlx::FromRow)]`.
pub use sqlx;

pub type Result<T, E = DbError> = std::result::Result<T, E>;

#[cfg(feature = "testing")]
pub mod testing;
