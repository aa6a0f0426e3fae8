//! Bulk writes on SQLite: one prepared single-row statement run per row, on a blocking thread, through rusqlite
//! on one of the connections sqlx opened (the same libsqlite3-sys). sqlx would need a multi-row statement per
//! few hundred rows, its SQL text built and hashed, every value boxed and sent to the connection's worker thread,
//! and SQLite a statement journal for each multi-row statement; here a row costs its bind and its step.
//!
//! Parameters bind by position. SQLite reads `$1` as a *named* parameter, numbered by its first appearance, so
//! statements written for this path number theirs `?1`, `?2`, ...; a shared `$N` statement is used only where
//! its parameters first appear in order.

use sqlx::SqlitePool;

use crate::StoreError;

/// Whether SQLite looks up each written row's foreign keys in their parent tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ForeignKeys {
    /// Every row's parents are looked up (the store's default).
    Checked,
    /// The transaction itself writes every parent its rows point to, before them: the lookups (one per parent
    /// key per row; 7 % of a whole-file ingest, BENCHMARKS.md) are switched off for this transaction only.
    WrittenFirst,
}

/// Runs `f` on a blocking thread with a rusqlite view of one of `pool`'s connections, in a transaction begun with
/// `BEGIN IMMEDIATE` (the write lock up front, like every writer of the store) and committed when `f` succeeds.
/// When `f` fails or panics the transaction is rolled back, so the connection goes back to the pool as it came
/// (foreign keys on); a connection that cannot be rolled back, or have its foreign keys switched back on, is
/// closed instead.
pub(crate) async fn write<T, F>(pool: &SqlitePool, keys: ForeignKeys, f: F) -> Result<T, StoreError>
where
    T: Send + 'static,
    F: FnOnce(&rusqlite::Connection) -> Result<T, StoreError> + Send + 'static,
{
    let mut conn = pool.acquire().await?;
    let runtime = tokio::runtime::Handle::current();
    let task = tokio::task::spawn_blocking(move || {
        // The connection's worker thread waits while `locked` is held: the handle is ours alone.
        let mut locked = runtime.block_on(conn.lock_handle())?;
        // SAFETY: the handle is open (sqlx closes it only when the connection is dropped, after this closure) and
        // used by nobody else while `locked` is held, which outlives `db`; `from_handle` does not close it.
        #[allow(unsafe_code)]
        let db = unsafe { rusqlite::Connection::from_handle(locked.as_raw_handle().as_ptr()) }?;
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            // A no-op inside a transaction: switched before BEGIN, back after it ends.
            if keys == ForeignKeys::WrittenFirst {
                db.execute_batch("PRAGMA foreign_keys = OFF")?;
            }
            db.execute_batch("BEGIN IMMEDIATE")?;
            let out = f(&db)?;
            db.execute_batch("COMMIT")?;
            Ok(out)
        }));
        let mut unusable = false;
        if !db.is_autocommit() {
            if let Err(e) = db.execute_batch("ROLLBACK") {
                tracing::error!(error = %e, "a failed bulk write could not be rolled back: its connection is closed");
                unusable = true;
            }
        }
        if keys == ForeignKeys::WrittenFirst && !unusable {
            if let Err(e) = db.execute_batch("PRAGMA foreign_keys = ON") {
                tracing::error!(error = %e, "foreign keys could not be switched back on: the connection is closed");
                unusable = true;
            }
        }
        drop(db);
        drop(locked);
        if unusable {
            conn.close_on_drop();
        }
        match outcome {
            Ok(result) => result,
            Err(panic) => std::panic::resume_unwind(panic),
        }
    });
    // A panic in `f` (a bug) surfaces as a crashed worker, like a panic on sqlx's own connection thread.
    task.await.map_err(|_| StoreError::Database(sqlx::Error::WorkerCrashed))?
}
