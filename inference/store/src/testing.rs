//! Test databases for both backends (feature `testing`), shared by every crate's store-backed tests: a fresh
//! SQLite file in a temporary folder, or a fresh PostgreSQL database created for the test and dropped afterwards,
//! plus [`on_both_backends!`](crate::on_both_backends) to run one scenario on each.
//!
//! PostgreSQL is reached through `PROGNOS_TEST_POSTGRES_URL` (default `postgres://postgres@127.0.0.1:5432/postgres`),
//! which must let the user create databases. When it cannot be reached, the test fails under `CI=true` and is
//! skipped with a note otherwise.

use std::io::Write;
use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, Connection, PgConnection};

use crate::Store;

pub mod bulk;

/// The server the PostgreSQL tests use unless `PROGNOS_TEST_POSTGRES_URL` says otherwise.
pub const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// Generates one test per backend (`sqlite::<name>`, `postgres::<name>`) for each scenario
/// `async fn name(db: &TestDb)` in scope.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let db = $crate::testing::TestDb::sqlite();
                    super::$name(&db).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let Some(db) = $crate::testing::TestDb::postgres().await else { return };
                    super::$name(&db).await;
                }
            )*
        }
    };
}

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
        let database = format!("prognos_test_{:016x}", rand::random::<u64>());
        sqlx::raw_sql(&format!("CREATE DATABASE {database}")).execute(&mut admin).await.expect("CREATE DATABASE");
        admin.close().await.ok();
        let url = with_database(&admin_url, &database);
        Some(TestDb { url, cleanup: Cleanup::Postgres { admin_url, database } })
    }

    /// Whether this is the PostgreSQL flavour.
    pub fn is_postgres(&self) -> bool {
        matches!(self.cleanup, Cleanup::Postgres { .. })
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
        let (admin_url, name) = (admin_url.clone(), database.clone());
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

#[cfg(test)]
mod tests {
    use super::with_database;

    #[test]
    fn with_database_replaces_the_path_only() {
        assert_eq!(with_database("postgres://u@h:5432/postgres", "x"), "postgres://u@h:5432/x");
        assert_eq!(with_database("postgres://u@h", "x"), "postgres://u@h/x");
        assert_eq!(with_database("postgres://u@h/db?sslmode=disable", "x"), "postgres://u@h/x?sslmode=disable");
    }
}
