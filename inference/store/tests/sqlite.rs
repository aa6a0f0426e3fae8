//! SQLite specifics: file and folder creation, pragmas, the in-memory URL, and URL errors.

mod common;

use common::{at, capture, features, prediction, TestDb};
use prognos_store::{Backend, Store, StoreError};

#[tokio::test]
async fn creates_the_file_and_its_folder_in_wal_mode() {
    let db = TestDb::sqlite();
    let path = db.url.trim_start_matches("sqlite://").to_string();
    assert!(!std::path::Path::new(&path).exists());
    let store = db.connect().await;
    assert_eq!(store.backend(), Backend::Sqlite);
    store.record_scored_capture(&capture("f1", "W01", at(0)), &features(1.0), &prediction(90.0, at(0))).await.unwrap();
    assert!(std::path::Path::new(&path).is_file());

    // A separate connection sees what the store set up: WAL persists in the file; the stored text format holds.
    let pool = sqlx::SqlitePool::connect(&db.url).await.unwrap();
    let mode: String = sqlx::query_scalar("PRAGMA journal_mode").fetch_one(&pool).await.unwrap();
    assert_eq!(mode, "wal");
    let text: String = sqlx::query_scalar("SELECT scored_at FROM predictions").fetch_one(&pool).await.unwrap();
    assert_eq!(text, "2024-05-01T12:00:00.000000Z");
    pool.close().await;

    store.close().await;
}

#[tokio::test]
async fn timestamp_columns_refuse_text_that_would_not_sort() {
    let db = TestDb::sqlite();
    db.connect().await.close().await;
    let pool = sqlx::SqlitePool::connect(&db.url).await.unwrap();
    let insert = "INSERT INTO quarantine (source, reason, at) VALUES ('s', 'r', $1)";
    for bad in ["2024-05-01T12:00:00Z", "2024-05-01 12:00:00", "yesterday"] {
        let refused = sqlx::query(insert).bind(bad).execute(&pool).await;
        assert!(refused.is_err(), "{bad:?} must be refused by the fixed-width CHECK");
    }
    sqlx::query(insert).bind("2024-05-01T12:00:00.000000Z").execute(&pool).await.unwrap();
    pool.close().await;
}

#[tokio::test]
async fn in_memory_store_keeps_its_data_across_operations() {
    let store = Store::connect("sqlite::memory:").await.unwrap();
    assert_eq!(store.backend(), Backend::Sqlite);
    for i in 0..5 {
        let c = capture(&format!("m{i}"), "W01", at(i));
        store.record_scored_capture(&c, &features(1.0), &prediction(90.0, at(i))).await.unwrap();
    }
    assert_eq!(store.count_captures().await.unwrap(), 5);
    assert_eq!(store.latest_predictions(10).await.unwrap().len(), 5);
    // A second in-memory store is a different, empty database.
    let other = Store::connect("sqlite::memory:").await.unwrap();
    assert_eq!(other.count_captures().await.unwrap(), 0);
    store.close().await;
    other.close().await;
}

#[tokio::test]
async fn unsupported_urls_are_refused_with_the_password_masked() {
    let err = Store::connect("mysql://root:hunter2@localhost/db").await.unwrap_err();
    assert!(matches!(err, StoreError::UnsupportedUrl { .. }), "{err:?}");
    let message = err.to_string();
    assert!(message.contains("mysql://root:***@localhost/db") && !message.contains("hunter2"), "{message}");
}
