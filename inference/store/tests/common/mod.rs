//! Test databases for both backends: a fresh SQLite file in a temporary folder, or a fresh PostgreSQL database
//! created for the test and dropped afterwards.
//!
//! PostgreSQL is reached through `PROGNOS_TEST_POSTGRES_URL` (default `postgres://postgres@127.0.0.1:5432/postgres`),
//! which must let the user create databases. When it cannot be reached, the test fails under `CI=true` and is
//! skipped with a note otherwise.

#![allow(dead_code)]

use std::io::Write;
use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use prognos_store::{FeatureValues, NewCapture, NewPrediction, RecordOutcome, Store, StoreError};
use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, Connection, PgConnection};

/// The server the PostgreSQL tests use unless `PROGNOS_TEST_POSTGRES_URL` says otherwise.
pub const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// A database that exists for one test.
pub struct TestDb {
    /// The URL to hand to [`Store::connect`].
    pub url: String,
    cleanup: Cleanup,
}

enum Cleanup {
    Sqlite(#[allow(dead_code)] tempfile::TempDir),
    Postgres { admin_url: String, database: String },
}

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0")
}

fn random_suffix() -> String {
    format!("{:016x}", rand::random::<u64>())
}

impl TestDb {
    /// A SQLite file that does not exist yet, in a folder that does not exist yet (the store creates both).
    pub fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().expect("temporary folder");
        let path = dir.path().join("nested").join("prognos.db");
        TestDb { url: format!("sqlite://{}", path.display()), cleanup: Cleanup::Sqlite(dir) }
    }

    /// A new, empty PostgreSQL database `prognos_test_<random>`; `None` (after a printed note) when the server
    /// cannot be reached outside CI. Panics under `CI=true` when it cannot be reached.
    pub async fn postgres() -> Option<TestDb> {
        let admin_url = std::env::var("PROGNOS_TEST_POSTGRES_URL").unwrap_or_else(|_| DEFAULT_POSTGRES_URL.into());
        let mut admin = match admin_connection(&admin_url).await {
            Ok(conn) => conn,
            Err(err) if in_ci() => {
                panic!("PostgreSQL at {admin_url} is unreachable under CI=true (set PROGNOS_TEST_POSTGRES_URL): {err}")
            }
            Err(err) => {
                // Straight to stderr, past the test harness's capture, so the skip is seen even when the test passes.
                let note = format!("note: skipping a PostgreSQL test, {admin_url} is unreachable: {err}\n");
                std::io::stderr().write_all(note.as_bytes()).ok();
                return None;
            }
        };
        let database = format!("prognos_test_{}", random_suffix());
        sqlx::raw_sql(&format!("CREATE DATABASE {database}")).execute(&mut admin).await.expect("CREATE DATABASE");
        admin.close().await.ok();
        let url = with_database(&admin_url, &database);
        Some(TestDb { url, cleanup: Cleanup::Postgres { admin_url, database } })
    }

    /// Opens (and migrates) a store on this database.
    pub async fn connect(&self) -> Store {
        Store::connect(&self.url).await.unwrap_or_else(|e| panic!("connect {}: {e}", self.url))
    }
}

async fn admin_connection(url: &str) -> Result<PgConnection, String> {
    let options = PgConnectOptions::from_str(url).map_err(|e| e.to_string())?;
    match tokio::time::timeout(Duration::from_secs(5), options.connect()).await {
        Ok(Ok(conn)) => Ok(conn),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err("timed out after 5 s".into()),
    }
}

/// `url` with its database (path) replaced, query string kept.
fn with_database(url: &str, database: &str) -> String {
    let (scheme, rest) = url.split_once("://").expect("a postgres:// URL");
    let (before_query, query) = rest.split_once('?').map_or((rest, None), |(b, q)| (b, Some(q)));
    let authority = before_query.split_once('/').map_or(before_query, |(a, _)| a);
    match query {
        Some(q) => format!("{scheme}://{authority}/{database}?{q}"),
        None => format!("{scheme}://{authority}/{database}"),
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Cleanup::Postgres { admin_url, database } = &self.cleanup else { return };
        let (admin_url, database, name) = (admin_url.clone(), database.clone(), database.clone());
        // Drop runs inside the test's runtime (maybe while panicking): do the async work on a thread of its own.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
            runtime.block_on(async {
                let mut admin = admin_connection(&admin_url).await?;
                sqlx::raw_sql(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .execute(&mut admin)
                    .await
                    .map_err(|e| e.to_string())?;
                admin.close().await.ok();
                Ok::<_, String>(())
            })?;
            Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
        })
        .join();
        if !matches!(dropped, Ok(Ok(()))) {
            eprintln!("note: could not drop test database {database}");
        }
    }
}

/// A fixed instant plus `millis`, with a sub-microsecond part the store must truncate.
pub fn at(millis: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 5, 1, 12, 0, 0).unwrap() + chrono::Duration::milliseconds(millis)
}

/// A capture of wheel `asset` with hash `hash`, taken at `when`.
pub fn capture(hash: &str, asset: &str, when: DateTime<Utc>) -> NewCapture {
    NewCapture {
        content_hash: hash.into(),
        site: "parkA".into(),
        camera: "Cam_01".into(),
        asset_id: asset.into(),
        run_count: Some(1234),
        captured_at: when,
        source: format!("Cam_01/{hash}.dat"),
        width: 2560,
        profiles: 1000,
        height_units: "mm".into(),
        mean_height: 412.25,
        mean_intensity: 0.1 + 0.2,
    }
}

/// A three-feature row whose names are deliberately not in alphabetical order.
pub fn features(seed: f32) -> FeatureValues {
    FeatureValues {
        feature_set: "wheel-v1".into(),
        names: vec!["tread_depth".into(), "flat_spot".into(), "crack_len".into()],
        values: vec![seed, 0.1 * seed, -3.3e-7],
    }
}

/// A prediction scored at `when`; classes deliberately not in alphabetical order.
pub fn prediction(health: f64, when: DateTime<Utc>) -> NewPrediction {
    NewPrediction {
        model: "wheel-health".into(),
        model_version: "1.0.0".into(),
        health_score: health,
        label: if health >= 50.0 { "healthy" } else { "defect" }.into(),
        probabilities: vec![("healthy".into(), health / 100.0), ("defect".into(), 1.0 - health / 100.0)],
        scored_at: when,
    }
}

#[test]
fn with_database_replaces_the_path_only() {
    assert_eq!(with_database("postgres://u@h:5432/postgres", "x"), "postgres://u@h:5432/x");
    assert_eq!(with_database("postgres://u@h", "x"), "postgres://u@h/x");
    assert_eq!(with_database("postgres://u@h/db?sslmode=disable", "x"), "postgres://u@h/x?sslmode=disable");
}

/// Records `capture(hash, asset, captured)` with `features(health)` and `prediction(health, scored)`.
pub async fn record(
    store: &Store,
    hash: &str,
    asset: &str,
    captured: DateTime<Utc>,
    health: f64,
    scored: DateTime<Utc>,
) -> Result<RecordOutcome, StoreError> {
    let (c, f, p) = (capture(hash, asset, captured), features(health as f32), prediction(health, scored));
    store.record_scored_capture(&c, &f, &p).await
}
