//! The local back-end end to end (the S3 back-end shares every code path but the builder).
#![allow(clippy::unwrap_used)]

use futures::StreamExt;
use iaso_files::{FileError, FileSettings, FileStore};

#[tokio::test]
async fn put_get_stream_delete() {
    let dir = tempfile::tempdir().unwrap();
    let store = FileStore::from_settings(&FileSettings::default(), dir.path()).unwrap();
    assert!(store.is_local());
    store.put("uploads/1/a.txt", "hello").await.unwrap();
    assert!(dir.path().join("files/uploads/1/a.txt").exists());
    assert_eq!(
        &store.get_bytes("uploads/1/a.txt").await.unwrap()[..],
        b"hello"
    );
    assert_eq!(store.size("uploads/1/a.txt").await.unwrap(), Some(5));
    assert_eq!(store.size("uploads/1/none.txt").await.unwrap(), None);

    // A large file written in pieces and read back as a stream.
    let mut w = store.writer("tasks/1/2/big.csv").unwrap();
    let line = b"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde\n";
    for _ in 0..40_000 {
        w.write(line).await.unwrap();
    }
    assert_eq!(w.finish().await.unwrap(), 64 * 40_000);
    let mut read = store.get("tasks/1/2/big.csv").await.unwrap();
    assert_eq!(read.size, 64 * 40_000);
    let mut total = 0;
    while let Some(chunk) = read.stream.next().await {
        total += chunk.unwrap().len();
    }
    assert_eq!(total, 64 * 40_000);

    let local = store.local_copy("uploads/1/a.txt").await.unwrap();
    assert_eq!(std::fs::read(local.path()).unwrap(), b"hello");
    assert!(store
        .presigned_url("uploads/1/a.txt", std::time::Duration::from_secs(60))
        .await
        .unwrap()
        .is_none());

    store.delete("uploads/1/a.txt").await.unwrap();
    store.delete("uploads/1/a.txt").await.unwrap();
    assert!(matches!(
        store.get_bytes("uploads/1/a.txt").await,
        Err(FileError::NotFound(_))
    ));
    assert!(matches!(
        store.put("../escape", "x").await,
        Err(FileError::InvalidKey { .. })
    ));

    // An abandoned writer leaves nothing.
    let mut w = store.writer("tasks/1/3/partial.csv").unwrap();
    w.write(b"abc").await.unwrap();
    w.abort().await.unwrap();
    assert_eq!(store.size("tasks/1/3/partial.csv").await.unwrap(), None);
}

#[test]
fn s3_settings_are_checked() {
    let err = FileStore::from_settings(
        &FileSettings {
            backend: "s3".into(),
            ..FileSettings::default()
        },
        std::path::Path::new("."),
    )
    .unwrap_err();
    assert!(err.to_string().contains("bucket"), "{err}");
    let s3 = FileStore::from_settings(
        &FileSettings {
            backend: "s3".into(),
            s3_bucket: "iaso".into(),
            s3_endpoint: "http://127.0.0.1:9".into(),
            s3_allow_http: true,
            s3_access_key_id: "k".into(),
            s3_secret_access_key: "s".into(),
            s3_prefix: "prod".into(),
            ..FileSettings::default()
        },
        std::path::Path::new("."),
    )
    .unwrap();
    assert!(!s3.is_local());
    assert!(FileStore::from_settings(
        &FileSettings {
            backend: "ftp".into(),
            ..FileSettings::default()
        },
        std::path::Path::new(".")
    )
    .is_err());
}

#[tokio::test]
async fn s3_presigns_without_network() {
    let s3 = FileStore::from_settings(
        &FileSettings {
            backend: "s3".into(),
            s3_bucket: "iaso".into(),
            s3_endpoint: "http://127.0.0.1:9".into(),
            s3_allow_http: true,
            s3_access_key_id: "k".into(),
            s3_secret_access_key: "s".into(),
            s3_prefix: "prod".into(),
            ..FileSettings::default()
        },
        std::path::Path::new("."),
    )
    .unwrap();
    let url = s3
        .presigned_url("tasks/1/out.csv", std::time::Duration::from_secs(60))
        .await
        .unwrap()
        .unwrap();
    assert!(
        url.as_str()
            .starts_with("http://127.0.0.1:9/iaso/prod/tasks/1/out.csv?"),
        "{url}"
    );
    assert!(url.as_str().contains("X-Amz-Signature="), "{url}");
}
