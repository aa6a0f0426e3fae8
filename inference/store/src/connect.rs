//! Opening a store from its URL: backend choice, connection settings, and the embedded migrations.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};

use crate::{Backend, StoreError};

/// The SQLite migrations, embedded at build time.
pub static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/sqlite");
/// The PostgreSQL migrations, embedded at build time.
pub static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/postgres");

/// Connection settings beyond the URL. [`StoreOptions::default`] suits the service.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// Most connections the pool opens. An in-memory SQLite database always uses exactly one.
    pub max_connections: u32,
    /// How long to wait for a free connection before failing.
    pub acquire_timeout: Duration,
    /// SQLite only: how long a writer waits for another writer's lock before failing with "database is locked".
    pub busy_timeout: Duration,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            max_connections: 8,
            acquire_timeout: Duration::from_secs(30),
            busy_timeout: Duration::from_secs(10),
        }
    }
}

/// The pool behind a store: one variant per backend. The queries are the same text for both (`$N` placeholders,
/// `ON CONFLICT`, `RETURNING`); only the pool type differs, and `on_pool!` expands each query once per variant.
#[derive(Debug, Clone)]
pub(crate) enum Pool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

impl Pool {
    pub(crate) fn backend(&self) -> Backend {
        match self {
            Pool::Sqlite(_) => Backend::Sqlite,
            Pool::Postgres(_) => Backend::Postgres,
        }
    }
}

/// Runs `$body` with `$pool` bound to the concrete pool, whichever backend it is.
macro_rules! on_pool {
    ($store:expr, $pool:ident => $body:expr) => {
        match &$store.pool {
            $crate::connect::Pool::Sqlite($pool) => $body,
            $crate::connect::Pool::Postgres($pool) => $body,
        }
    };
}
pub(crate) use on_pool;

/// Opens the database `url` names and applies any migrations it has not had yet. A SQLite file comes with its
/// background checkpointer.
pub(crate) async fn open(url: &str, options: &StoreOptions) -> Result<(Pool, Option<Checkpointer>), StoreError> {
    let scheme = url.split(':').next().unwrap_or_default().to_ascii_lowercase();
    match scheme.as_str() {
        "sqlite" => {
            let pool = open_sqlite(url, options).await?;
            let checkpointer = (!is_memory_url(url)).then(|| Checkpointer::start(pool.clone()));
            Ok((Pool::Sqlite(pool), checkpointer))
        }
        "postgres" | "postgresql" => Ok((Pool::Postgres(open_postgres(url, options).await?), None)),
        _ => Err(StoreError::UnsupportedUrl { url: mask_password(url) }),
    }
}

/// How often the background checkpointer moves committed WAL pages into a SQLite file.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(100);

/// WAL pages past which a committing writer checkpoints by itself (SQLite's own automatic checkpoint): only
/// when the background checkpointer has fallen this far behind (readers holding old snapshots, say).
const WRITER_CHECKPOINT_PAGES: u32 = 16_384;

/// Checkpoints a SQLite file's WAL in the background. SQLite's automatic checkpoint runs inside the commit that
/// takes the WAL past 1,000 pages: a writer (an ingest, a request) would wait while megabytes are copied into
/// the database file and synced. Here a task does it every [`CHECKPOINT_EVERY`] on a connection of its own
/// (`PASSIVE`: it never blocks readers or writers), and writers checkpoint by themselves only past
/// [`WRITER_CHECKPOINT_PAGES`]. The task ends when the pool closes or the last clone of the store is dropped.
#[derive(Debug)]
pub(crate) struct Checkpointer(tokio::task::AbortHandle);

impl Checkpointer {
    fn start(pool: SqlitePool) -> Checkpointer {
        let task = tokio::spawn(async move {
            let mut tick = tokio::time::interval(CHECKPOINT_EVERY);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut failing = false;
            loop {
                tick.tick().await;
                if pool.is_closed() {
                    break;
                }
                match sqlx::query("PRAGMA wal_checkpoint(PASSIVE)").execute(&pool).await {
                    Ok(_) => failing = false,
                    Err(sqlx::Error::PoolClosed) => break,
                    // Said once per run of failures; the writers' own checkpoint stands in meanwhile.
                    Err(e) if !failing => {
                        failing = true;
                        tracing::warn!(error = %e, "background WAL checkpoint failed");
                    }
                    Err(_) => {}
                }
            }
        });
        Checkpointer(task.abort_handle())
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Whether a SQLite URL names an in-memory database (`sqlite::memory:`, `sqlite://:memory:`, `mode=memory`).
fn is_memory_url(url: &str) -> bool {
    let rest = url.trim_start_matches("sqlite:").trim_start_matches("//");
    let (path, params) = rest.split_once('?').unwrap_or((rest, ""));
    path == ":memory:" || params.split('&').any(|p| p == "mode=memory")
}

async fn open_sqlite(url: &str, options: &StoreOptions) -> Result<SqlitePool, StoreError> {
    let memory = is_memory_url(url);
    let mut connect = SqliteConnectOptions::from_str(url)?
        .foreign_keys(true)
        .busy_timeout(options.busy_timeout)
        .synchronous(SqliteSynchronous::Normal);
    let mut pool = SqlitePoolOptions::new().acquire_timeout(options.acquire_timeout);
    let mut lock_path = None;
    if memory {
        // Every connection to `sqlite::memory:` would otherwise see its own empty database, and the database
        // vanishes with its last connection: keep exactly one, forever.
        pool = pool.max_connections(1).min_connections(1).idle_timeout(None).max_lifetime(None);
    } else {
        connect = connect
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .pragma("wal_autocheckpoint", WRITER_CHECKPOINT_PAGES.to_string());
        pool = pool.max_connections(options.max_connections.max(1));
        let file = connect.get_filename();
        if let Some(dir) = file.parent().filter(|p| !p.as_os_str().is_empty()) {
            create_dir(dir)?;
        }
        let mut name = file.file_name().unwrap_or_default().to_os_string();
        name.push("-migrations.lock");
        lock_path = Some(file.with_file_name(name));
    }
    // sqlx takes no lock around SQLite migrations: two processes opening a new file together (the service and
    // `prognos ingest`, say) would both apply the first migration, and one would fail; and the first connection
    // to a new file switches it to WAL, which a concurrent opener sees as a locked database. An exclusive lock
    // on a file beside the database, held while the first connection opens and the migrations run, makes the
    // second opener wait and then find both done.
    let _lock = match lock_path {
        Some(path) => Some(lock_exclusive(path).await?),
        None => None,
    };
    let pool = pool.connect_with(connect).await?;
    SQLITE_MIGRATIONS.run(&pool).await?;
    tracing::debug!(memory, "sqlite store open");
    Ok(pool)
}

/// Opens (creating) `path` and waits for an exclusive lock on it, held until the file is dropped.
async fn lock_exclusive(path: std::path::PathBuf) -> Result<std::fs::File, StoreError> {
    tokio::task::spawn_blocking(move || {
        let locked = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .and_then(|f| f.lock().map(|()| f));
        locked.map_err(|source| StoreError::MigrationLock { path, source })
    })
    .await
    .map_err(|e| StoreError::MigrationLock { path: Default::default(), source: std::io::Error::other(e) })?
}

fn create_dir(dir: &Path) -> Result<(), StoreError> {
    std::fs::create_dir_all(dir).map_err(|source| StoreError::CreateDir { path: dir.to_path_buf(), source })
}

async fn open_postgres(url: &str, options: &StoreOptions) -> Result<PgPool, StoreError> {
    let connect = PgConnectOptions::from_str(url)?;
    let pool = PgPoolOptions::new()
        .max_connections(options.max_connections.max(1))
        .acquire_timeout(options.acquire_timeout)
        .connect_with(connect)
        .await?;
    // sqlx takes a PostgreSQL advisory lock around the migrations, so replicas starting together are safe.
    POSTGRES_MIGRATIONS.run(&pool).await?;
    tracing::debug!("postgres store open");
    Ok(pool)
}

/// The URL with any password replaced by `***`, for messages and logs.
pub fn mask_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return url.to_string() };
    let (authority, tail) = rest.split_once('/').map_or((rest, None), |(a, t)| (a, Some(t)));
    let Some((userinfo, host)) = authority.rsplit_once('@') else { return url.to_string() };
    let user = userinfo.split_once(':').map_or(userinfo, |(user, _)| user);
    let masked = if user.len() == userinfo.len() { userinfo.to_string() } else { format!("{user}:***") };
    match tail {
        Some(tail) => format!("{scheme}://{masked}@{host}/{tail}"),
        None => format!("{scheme}://{masked}@{host}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_urls_are_recognised() {
        assert!(is_memory_url("sqlite::memory:"));
        assert!(is_memory_url("sqlite://:memory:"));
        assert!(is_memory_url("sqlite://x.db?mode=memory"));
        assert!(!is_memory_url("sqlite://data/prognos.db"));
        assert!(!is_memory_url("sqlite://data/memory.db"));
    }

    /// The value of `PRAGMA name` on one of the pool's connections, as text.
    async fn pragma(pool: &SqlitePool, name: &str) -> String {
        use sqlx::Row;
        let row = sqlx::query(&format!("PRAGMA {name}")).fetch_one(pool).await.unwrap();
        row.try_get::<String, _>(0).or_else(|_| row.try_get::<i64, _>(0).map(|v| v.to_string())).unwrap()
    }

    #[tokio::test]
    async fn sqlite_file_is_created_with_wal_normal_sync_foreign_keys_and_busy_timeout() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a").join("b").join("prognos.db");
        let options = StoreOptions { busy_timeout: Duration::from_millis(4321), ..StoreOptions::default() };
        let (Pool::Sqlite(pool), _) = open(&format!("sqlite://{}", path.display()), &options).await.unwrap() else {
            panic!("expected a SQLite pool")
        };
        assert!(path.is_file());
        assert_eq!(pragma(&pool, "journal_mode").await, "wal");
        assert_eq!(pragma(&pool, "synchronous").await, "1", "NORMAL");
        assert_eq!(pragma(&pool, "foreign_keys").await, "1");
        assert_eq!(pragma(&pool, "busy_timeout").await, "4321");
        assert_eq!(pragma(&pool, "wal_autocheckpoint").await, WRITER_CHECKPOINT_PAGES.to_string());
        pool.close().await;
    }

    #[tokio::test]
    async fn committed_pages_reach_the_database_file_in_the_background_not_in_the_commit() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("prognos.db");
        let (Pool::Sqlite(pool), Some(checkpointer)) =
            open(&format!("sqlite://{}", path.display()), &StoreOptions::default()).await.unwrap()
        else {
            panic!("expected a SQLite file with its checkpointer")
        };
        drop(checkpointer);
        // 2,000 rows of 4 KiB: some 4,000 pages, past SQLite's own automatic checkpoint (1,000) and short of the
        // writers' (16,384).
        let fill = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2000) \
                    INSERT INTO filler SELECT randomblob(4096) FROM n";
        sqlx::query("CREATE TABLE filler (b BLOB)").execute(&pool).await.unwrap();
        let size = || std::fs::metadata(&path).unwrap().len();
        let before = size();
        sqlx::query(fill).execute(&pool).await.unwrap();
        tokio::time::sleep(CHECKPOINT_EVERY * 3).await;
        assert!(size() < before + (1 << 20), "the commit checkpointed: {} -> {} bytes", before, size());
        let _checkpointer = Checkpointer::start(pool.clone());
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while size() < before + 8_000_000 {
            assert!(std::time::Instant::now() < deadline, "not checkpointed in 10 s: {} bytes", size());
            tokio::time::sleep(CHECKPOINT_EVERY).await;
        }
        pool.close().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn processes_opening_a_new_sqlite_store_together_all_succeed() {
        // A service and `prognos ingest` started on the same new file both migrate it: neither may fail.
        for round in 0..20 {
            let dir = tempfile::tempdir().unwrap();
            let url = format!("sqlite://{}", dir.path().join("prognos.db").display());
            let opens: Vec<_> = (0..4)
                .map(|_| {
                    let url = url.clone();
                    tokio::spawn(async move { open(&url, &StoreOptions::default()).await.map(|_| ()) })
                })
                .collect();
            for o in opens {
                if let Err(e) = o.await.unwrap() {
                    panic!("round {round}: {e}");
                }
            }
        }
    }

    #[tokio::test]
    async fn sqlite_memory_has_foreign_keys_and_one_connection() {
        let (Pool::Sqlite(pool), None) = open("sqlite::memory:", &StoreOptions::default()).await.unwrap() else {
            panic!("expected a SQLite pool")
        };
        assert_eq!(pragma(&pool, "foreign_keys").await, "1");
        assert_eq!(pragma(&pool, "journal_mode").await, "memory");
        assert_eq!(pool.options().get_max_connections(), 1);
        pool.close().await;
    }

    #[test]
    fn passwords_are_masked() {
        assert_eq!(mask_password("postgres://u:secret@h:5432/db"), "postgres://u:***@h:5432/db");
        assert_eq!(mask_password("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(mask_password("postgres://h/db"), "postgres://h/db");
        assert_eq!(mask_password("mysql://u:p@h"), "mysql://u:***@h");
    }
}
