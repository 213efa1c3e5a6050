use chrono::{DateTime, NaiveDate, SubsecRound, Utc};
use sqlx::encode::IsNull;
use sqlx::error::BoxDynError;
use sqlx::postgres::{PgArgumentBuffer, PgTypeInfo};
use sqlx::sqlite::{SqliteArgumentValue, SqliteTypeInfo};
use sqlx::{Encode, Postgres, Sqlite, Type};

/// A bind parameter, typed enough for both backends.
///
/// Storage conventions (the same on both sides wherever possible):
/// ids are BIGINT, timestamps TIMESTAMPTZ on PostgreSQL and RFC 3339 text (UTC, microseconds)
/// on SQLite, JSON is JSONB / TEXT, UUIDs are stored as text.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// NULL of whatever type the context needs (PostgreSQL infers it).
    Null,
    Bool(bool),
    I64(i64),
    F64(f64),
    Text(String),
    Bytes(Vec<u8>),
    Json(serde_json::Value),
    Timestamp(DateTime<Utc>),
    Date(NaiveDate),
}

/// The current time, truncated to the microsecond so that values read back from either backend
/// compare equal to what was written.
pub fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

fn sqlite_timestamp(ts: &DateTime<Utc>) -> String {
    // Fixed width so that text comparison orders timestamps correctly.
    ts.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

impl Type<Sqlite> for Value {
    fn type_info() -> SqliteTypeInfo {
        <String as Type<Sqlite>>::type_info()
    }
}

impl<'q> Encode<'q, Sqlite> for Value {
    fn encode_by_ref(&self, buf: &mut Vec<SqliteArgumentValue<'q>>) -> Result<IsNull, BoxDynError> {
        match self {
            Value::Null => Ok(IsNull::Yes),
            Value::Bool(v) => <bool as Encode<Sqlite>>::encode_by_ref(v, buf),
            Value::I64(v) => <i64 as Encode<Sqlite>>::encode_by_ref(v, buf),
            Value::F64(v) => <f64 as Encode<Sqlite>>::encode_by_ref(v, buf),
            Value::Text(v) => <String as Encode<Sqlite>>::encode_by_ref(v, buf),
            Value::Bytes(v) => <Vec<u8> as Encode<Sqlite>>::encode_by_ref(v, buf),
            Value::Json(v) => <String as Encode<Sqlite>>::encode(v.to_string(), buf),
            Value::Timestamp(v) => <String as Encode<Sqlite>>::encode(sqlite_timestamp(v), buf),
            Value::Date(v) => {
                <String as Encode<Sqlite>>::encode(v.format("%Y-%m-%d").to_string(), buf)
            }
        }
    }

    fn produces(&self) -> Option<SqliteTypeInfo> {
        Some(match self {
            Value::Null
            | Value::Text(_)
            | Value::Json(_)
            | Value::Timestamp(_)
            | Value::Date(_) => <String as Type<Sqlite>>::type_info(),
            Value::Bool(_) => <bool as Type<Sqlite>>::type_info(),
            Value::I64(_) => <i64 as Type<Sqlite>>::type_info(),
            Value::F64(_) => <f64 as Type<Sqlite>>::type_info(),
            Value::Bytes(_) => <Vec<u8> as Type<Sqlite>>::type_info(),
        })
    }
}

impl Type<Postgres> for Value {
    fn type_info() -> PgTypeInfo {
        <String as Type<Postgres>>::type_info()
    }
}

impl Encode<'_, Postgres> for Value {
    fn encode_by_ref(&self, buf: &mut PgArgumentBuffer) -> Result<IsNull, BoxDynError> {
        match self {
            Value::Null => Ok(IsNull::Yes),
            Value::Bool(v) => <bool as Encode<Postgres>>::encode_by_ref(v, buf),
            Value::I64(v) => <i64 as Encode<Postgres>>::encode_by_ref(v, buf),
            Value::F64(v) => <f64 as Encode<Postgres>>::encode_by_ref(v, buf),
            Value::Text(v) => <String as Encode<Postgres>>::encode_by_ref(v, buf),
            Value::Bytes(v) => <Vec<u8> as Encode<Postgres>>::encode_by_ref(v, buf),
            Value::Json(v) => {
                <sqlx::types::Json<&serde_json::Value> as Encode<Postgres>>::encode_by_ref(
                    &sqlx::types::Json(v),
                    buf,
                )
            }
            Value::Timestamp(v) => <DateTime<Utc> as Encode<Postgres>>::encode_by_ref(v, buf),
            Value::Date(v) => <NaiveDate as Encode<Postgres>>::encode_by_ref(v, buf),
        }
    }

    fn produces(&self) -> Option<PgTypeInfo> {
        Some(match self {
            // OID 0 = "unspecified": the server infers the type from the context.
            Value::Null => PgTypeInfo::with_oid(sqlx::postgres::types::Oid(0)),
            Value::Bool(_) => <bool as Type<Postgres>>::type_info(),
            Value::I64(_) => <i64 as Type<Postgres>>::type_info(),
            Value::F64(_) => <f64 as Type<Postgres>>::type_info(),
            Value::Text(_) => <String as Type<Postgres>>::type_info(),
            Value::Bytes(_) => <Vec<u8> as Type<Postgres>>::type_info(),
            Value::Json(_) => <sqlx::types::Json<serde_json::Value> as Type<Postgres>>::type_info(),
            Value::Timestamp(_) => <DateTime<Utc> as Type<Postgres>>::type_info(),
            Value::Date(_) => <NaiveDate as Type<Postgres>>::type_info(),
        })
    }
}

macro_rules! value_from {
    ($($t:ty => $variant:ident),* $(,)?) => {$(
        impl From<$t> for Value {
            fn from(v: $t) -> Self { Value::$variant(v.into()) }
        }
    )*};
}

value_from!(
    bool => Bool,
    i64 => I64,
    i32 => I64,
    u32 => I64,
    f64 => F64,
    String => Text,
    Vec<u8> => Bytes,
    serde_json::Value => Json,
    DateTime<Utc> => Timestamp,
    NaiveDate => Date,
);

impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Value::Text(v.to_owned())
    }
}

impl From<&String> for Value {
    fn from(v: &String) -> Self {
        Value::Text(v.clone())
    }
}

impl From<uuid::Uuid> for Value {
    fn from(v: uuid::Uuid) -> Self {
        Value::Text(v.hyphenated().to_string())
    }
}

impl From<&serde_json::Value> for Value {
    fn from(v: &serde_json::Value) -> Self {
        Value::Json(v.clone())
    }
}

impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Self {
        v.map_or(Value::Null, Into::into)
    }
}
