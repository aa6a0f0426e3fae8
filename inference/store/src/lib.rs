//! Storage for Prognos: captures, feature rows, predictions and quarantined inputs, on SQLite or PostgreSQL.
//!
//! [`Store::connect`] picks the backend from the URL and applies the embedded migrations:
//!
//! - `sqlite://data/prognos.db`: the embedded default. The file and its folder are created when missing; the
//!   database runs in WAL mode with `synchronous=NORMAL`, foreign keys on and a busy timeout, its WAL
//!   checkpointed by a background task. Writers take the
//!   write lock up front (`BEGIN IMMEDIATE`), so concurrent writers queue instead of failing mid-transaction.
//! - `sqlite::memory:`: a private in-memory database (one connection), for tests and dry runs.
//! - `postgres://user@host/db`: for fleets and several replicas sharing one database.
//!
//! The two backends share one set of SQL: every query is written once with `$N` placeholders, `ON CONFLICT` and
//! `RETURNING`, which both engines accept, and runs through an enum of the two pool types. The per-backend
//! differences in the Rust code are the timestamp type [`Ts`], which is `TIMESTAMPTZ` on PostgreSQL and
//! fixed-width RFC 3339 text on SQLite, so ordering and range comparisons agree, and the bulk inverter writes on
//! SQLite (`readings/sqlite.rs`), which write the same rows one prepared statement each through rusqlite on a
//! connection of the pool. Schema differences (identity columns, column types) live in the two migration
//! folders, `migrations/sqlite` and `migrations/postgres`.
//!
//! ```no_run
//! # async fn demo() -> Result<(), prognos_store::StoreError> {
//! let store = prognos_store::Store::connect("sqlite://data/prognos.db").await?;
//! for p in store.predictions_for_asset("W07", 10).await? {
//!     println!("{} {} {:.1}", p.scored_at, p.label, p.health_score);
//! }
//! store.close().await;
//! # Ok(()) }
//! ```

pub mod alerts;
mod bulk;
mod claims;
mod connect;
mod error;
mod export;
mod json;
mod listing;
mod model_ops;
mod read;
mod readings;
mod records;
mod retention;
#[cfg(feature = "testing")]
pub mod testing;
mod time;
mod trends;
mod write;

pub use alerts::{
    AckOutcome, AlertFilter, AlertRecord, AlertState, AlertTx, Claim, HeartbeatRecord, NewAlert, NewNotification,
    NewSilence, Notice, NotificationCounts, NotificationFilter, NotificationRecord, NotificationStatus, SilenceRecord,
    TrendPoint,
};
pub use connect::{mask_password, StoreOptions, POSTGRES_MIGRATIONS, SQLITE_MIGRATIONS};
pub use error::StoreError;
pub use export::{CaptureFeaturesRow, ExportFilter, PredictionExportRow, WindowFeaturesRow};
pub use listing::{AssetFilter, AssetSummary, PredictionCursor, PredictionFilter};
pub use model_ops::{InspectionRecord, LabelledRow, ModelSelection, NewInspection};
pub use readings::{InverterDay, NewWindowRow, ReadingsOutcome, StoredWindow};
pub use records::{
    AssetKind, AssetRecord, Backend, CaptureRecord, Contribution, FeatureValues, NewCapture, NewPrediction,
    PredictionRecord, QuarantineRecord, RecordOutcome,
};
pub use retention::{RetainedTable, RetentionReport, RAW_WATERMARK};
pub use time::stored as stored_timestamp;
pub use trends::{
    TrendBucket, TrendMetric, TrendPlan, TrendRequest, INVERTER_FEATURE_SET, MAX_BUCKETS, PER_BUCKET_MAX,
};

/// A handle on the database: cheap to clone (clones share one connection pool).
#[derive(Debug, Clone)]
pub struct Store {
    pub(crate) pool: connect::Pool,
    /// A SQLite file's background checkpointer, stopped when the last clone is dropped.
    _checkpointer: Option<std::sync::Arc<connect::Checkpointer>>,
}

impl Store {
    /// Opens the database named by `url` (see the crate docs) with default settings and applies any pending
    /// migrations.
    pub async fn connect(url: &str) -> Result<Store, StoreError> {
        Store::connect_with(url, &StoreOptions::default()).await
    }

    /// Like [`Store::connect`], with explicit connection settings.
    pub async fn connect_with(url: &str, options: &StoreOptions) -> Result<Store, StoreError> {
        let (pool, checkpointer) = connect::open(url, options).await?;
        Ok(Store { pool, _checkpointer: checkpointer.map(std::sync::Arc::new) })
    }

    /// Which engine this store runs on.
    pub fn backend(&self) -> Backend {
        self.pool.backend()
    }

    /// Closes every connection, waiting for those in use to be returned. Clones of this store close too.
    pub async fn close(&self) {
        match &self.pool {
            connect::Pool::Sqlite(pool) => pool.close().await,
            connect::Pool::Postgres(pool) => pool.close().await,
        }
    }
}
