//! The store's error type.

use std::path::PathBuf;

/// Everything that can go wrong while opening, migrating, writing or reading the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The URL names no backend this crate serves (neither `sqlite:` nor `postgres:`/`postgresql:`).
    #[error("unsupported database URL {url:?}: expected sqlite://PATH, sqlite::memory: or postgres://...")]
    UnsupportedUrl {
        /// The URL as given, with any password masked.
        url: String,
    },
    /// The folder that should hold the SQLite file could not be created.
    #[error("cannot create the database folder {path}: {source}")]
    CreateDir {
        /// The folder.
        path: PathBuf,
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The lock that keeps processes from migrating one SQLite file at once could not be taken.
    #[error("cannot lock {path} to migrate the database: {source}")]
    MigrationLock {
        /// The lock file (beside the database).
        path: PathBuf,
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },
    /// Applying the embedded migrations failed.
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// The database driver reported an error (connection, constraint, I/O, decoding a column).
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// SQLite reported an error during a bulk write (through rusqlite on a connection of the pool).
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// The caller passed something the store will not record (e.g. feature names and values of different lengths).
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// A value read back from the database does not have the shape this crate wrote.
    #[error("corrupt {what} in the database: {detail}")]
    Corrupt {
        /// Which column or value.
        what: &'static str,
        /// What was wrong with it.
        detail: String,
    },
}
