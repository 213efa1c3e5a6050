//! The portable layer behaves the same on both backends.
#![allow(clippy::unwrap_used)]

use chrono::{DateTime, NaiveDate, Utc};
use futures::StreamExt;
use iaso_db::migrate::Migration;
use iaso_db::{backend_test, sql, Conn, Db, DbError, Sql};
use sqlx::types::Json;

const MIGRATIONS: &[Migration] = &[Migration {
    version: 1,
    name: "things",
    template: "
CREATE TABLE things (
    id {{pk}},
    name TEXT NOT NULL UNIQUE,
    size BIGINT,
    ratio DOUBLE PRECISION,
    active BOOLEAN NOT NULL DEFAULT TRUE,
    born {{date}},
    seen_at {{ts}},
    extra {{json}},
    raw {{blob}}
);
--@postgres
CREATE INDEX things_lower_name ON things (lower(name));
--@end
--@sqlite
CREATE INDEX things_lower_name ON things (lower(name));
--@end
",
}];

#[derive(Debug, sqlx::FromRow)]
struct Thing {
    id: i64,
    name: String,
    size: Option<i64>,
    ratio: Option<f64>,
    active: bool,
    born: Option<NaiveDate>,
    seen_at: Option<DateTime<Utc>>,
    extra: Option<Json<serde_json::Value>>,
    raw: Option<Vec<u8>>,
}

backend_test!(MIGRATIONS, values_round_trip, |mut db: Db| async move {
    let seen = iaso_db::now();
    let born = NaiveDate::from_ymd_opt(2020, 2, 29).unwrap();
    let extra = serde_json::json!({"a": [1, 2], "b": "é"});
    let id: i64 = db
        .fetch_scalar(sql!(
            "INSERT INTO things (name, size, ratio, active, born, seen_at, extra, raw)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
            "first",
            42i64,
            0.5f64,
            false,
            born,
            seen,
            extra.clone(),
            vec![0u8, 255]
        ))
        .await
        .unwrap();
    let t: Thing = db
        .fetch_one(sql!("SELECT * FROM things WHERE id = $1", id))
        .await
        .unwrap();
    assert_eq!(t.id, id);
    assert_eq!(t.name, "first");
    assert_eq!(t.size, Some(42));
    assert_eq!(t.ratio, Some(0.5));
    assert!(!t.active);
    assert_eq!(t.born, Some(born));
    assert_eq!(t.seen_at, Some(seen));
    assert_eq!(t.extra.unwrap().0, extra);
    assert_eq!(t.raw, Some(vec![0u8, 255]));

    // Untyped NULLs bind into any column.
    db.execute(sql!(
        "INSERT INTO things (name, size, born, seen_at, extra) VALUES ($1, $2, $3, $4, $5)",
        "second",
        None::<i64>,
        None::<NaiveDate>,
        None::<DateTime<Utc>>,
        None::<serde_json::Value>
    ))
    .await
    .unwrap();
    let t: Thing = db
        .fetch_one(sql!("SELECT * FROM things WHERE name = $1", "second"))
        .await
        .unwrap();
    assert_eq!((t.size, t.born, t.seen_at, t.raw), (None, None, None, None));
    assert!(t.extra.is_none());
    assert!(t.active, "the DEFAULT TRUE applies");
});

backend_test!(MIGRATIONS, errors_are_classified, |mut db: Db| async move {
    db.execute(sql!("INSERT INTO things (name) VALUES ($1)", "x"))
        .await
        .unwrap();
    let err = db
        .execute(sql!("INSERT INTO things (name) VALUES ($1)", "x"))
        .await
        .unwrap_err();
    assert!(matches!(err, DbError::UniqueViolation { .. }), "{err:?}");
    let err = db
        .fetch_one::<Thing>(sql!("SELECT * FROM things WHERE id = $1", -1i64))
        .await
        .unwrap_err();
    assert!(matches!(err, DbError::NotFound));
});

backend_test!(
    MIGRATIONS,
    transactions_roll_back,
    |mut db: Db| async move {
        let mut tx = db.begin().await.unwrap();
        tx.execute(sql!("INSERT INTO things (name) VALUES ($1)", "kept?"))
            .await
            .unwrap();
        let inside: i64 = tx
            .fetch_scalar(Sql::new("SELECT COUNT(*) FROM things"))
            .await
            .unwrap();
        assert_eq!(inside, 1);
        drop(tx); // no commit
        let after: i64 = db
            .fetch_scalar(Sql::new("SELECT COUNT(*) FROM things"))
            .await
            .unwrap();
        assert_eq!(after, 0);

        let mut tx = db.begin().await.unwrap();
        tx.execute(sql!("INSERT INTO things (name) VALUES ($1)", "kept"))
            .await
            .unwrap();
        tx.commit().await.unwrap();
        let after: i64 = db
            .fetch_scalar(Sql::new("SELECT COUNT(*) FROM things"))
            .await
            .unwrap();
        assert_eq!(after, 1);
    }
);

backend_test!(MIGRATIONS, builder_and_stream, |mut db: Db| async move {
    let mut tx = db.begin().await.unwrap();
    for i in 0..500i64 {
        tx.execute(sql!(
            "INSERT INTO things (name, size) VALUES ($1, $2)",
            format!("n{i:03}"),
            i
        ))
        .await
        .unwrap();
    }
    tx.commit().await.unwrap();

    let mut q = Sql::new("SELECT * FROM things WHERE size >= ");
    q.bind(10i64)
        .push(" AND name IN (")
        .bind_list(["n010", "n011", "n499", "zzz"])
        .push(") ORDER BY id");
    let rows: Vec<Thing> = db.fetch_all(q).await.unwrap();
    assert_eq!(
        rows.iter().map(|t| t.name.as_str()).collect::<Vec<_>>(),
        ["n010", "n011", "n499"]
    );

    let mut stream = db.stream::<Thing>(Sql::new("SELECT * FROM things ORDER BY size"));
    let mut expected = 0;
    while let Some(row) = stream.next().await {
        assert_eq!(row.unwrap().size, Some(expected));
        expected += 1;
    }
    assert_eq!(expected, 500);
});

#[tokio::test]
async fn migrations_refuse_edits_and_unknown_versions() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite:{}", dir.path().join("m.sqlite3").display());
    let db = Db::connect(&url, &Default::default()).await.unwrap();
    let report = iaso_db::migrate::run(&db, MIGRATIONS).await.unwrap();
    assert_eq!(report.applied.len(), 1);
    let report = iaso_db::migrate::run(&db, MIGRATIONS).await.unwrap();
    assert_eq!((report.applied.len(), report.already), (0, 1));

    let edited = [Migration {
        template: "CREATE TABLE other (id {{pk}});",
        ..MIGRATIONS[0]
    }];
    let err = iaso_db::migrate::run(&db, &edited).await.unwrap_err();
    assert!(
        matches!(err, DbError::MigrationChanged { version: 1, .. }),
        "{err:?}"
    );
    let err = iaso_db::migrate::run(&db, &[]).await.unwrap_err();
    assert!(
        matches!(err, DbError::UnknownMigration { version: 1 }),
        "{err:?}"
    );
}

#[test]
fn render_picks_backend_blocks_and_types() {
    use iaso_db::{migrate::render, Backend};
    let t = "CREATE TABLE t (id {{pk}}, at {{ts}});\n--@postgres\nPG ONLY;\n--@end\n--@sqlite\nLITE ONLY;\n--@end\n";
    let pg = render(t, Backend::Postgres);
    assert!(
        pg.contains("BIGSERIAL PRIMARY KEY")
            && pg.contains("TIMESTAMPTZ")
            && pg.contains("PG ONLY")
    );
    assert!(!pg.contains("LITE ONLY"));
    let lite = render(t, Backend::Sqlite);
    assert!(lite.contains("INTEGER PRIMARY KEY AUTOINCREMENT") && lite.contains("LITE ONLY"));
    assert!(!lite.contains("PG ONLY") && !lite.contains("{{"));
}
