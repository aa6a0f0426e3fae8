//! [`AlertTx`]: one transaction over alert state and the outbox, so that a state change and the notifications it
//! causes are committed together or not at all.

use chrono::{DateTime, Utc};
use sqlx::{Postgres, Sqlite, Transaction};

use crate::connect::Pool;
use crate::time::Ts;
use crate::{AssetKind, Store, StoreError};

use super::records::{check_limit, check_nonempty, AlertFilter, AlertRecord, HeartbeatRecord, NewAlert};
use super::records::{NewNotification, SilenceRecord, TrendPoint};
use super::rows::{self, bind_args, encode_json, AlertRow, SilenceRow, ALERT_COLUMNS, SILENCE_COLUMNS};

/// An open write transaction on the alert tables (and the outbox), from [`Store::begin_alerts`].
///
/// On SQLite it holds the database's write lock from the start (`BEGIN IMMEDIATE`), so what it reads cannot
/// change before it commits. On PostgreSQL the reads that return alerts lock the rows they return
/// (`FOR UPDATE`), so two processes deciding about the same alert take turns, and the second sees the first's
/// decision. Dropping it without [`AlertTx::commit`] rolls back.
#[derive(Debug)]
pub struct AlertTx {
    inner: Inner,
}

#[derive(Debug)]
enum Inner {
    Sqlite(Transaction<'static, Sqlite>),
    Postgres(Transaction<'static, Postgres>),
}

/// Runs `$body` with `$tx` bound to the concrete transaction, whichever backend it is.
macro_rules! on_tx {
    ($self:expr, $tx:ident => $body:expr) => {
        match &mut $self.inner {
            Inner::Sqlite($tx) => $body,
            Inner::Postgres($tx) => $body,
        }
    };
}

const INSERT_ALERT: &str = "\
INSERT INTO alerts (rule, asset_id, site, pipeline, route, state, consecutive, value, threshold, opened_at,
    updated_at, detail)
VALUES ($1, $2, $3, $4, $5, 'pending', 0, $6, $7, $8, $8, $9)
ON CONFLICT (rule, asset_id) WHERE state IN ('pending', 'firing') DO NOTHING
RETURNING id";

const UPDATE_ALERT: &str = "\
UPDATE alerts SET state = $2, consecutive = $3, value = $4, threshold = $5, updated_at = $6, fired_at = $7,
    resolved_at = $8, acked_at = $9, acked_by = $10, last_notified_at = $11, escalation_level = $12,
    escalated_at = $13, pending_notice = $14, notice_since = $15, detail = $16, site = $17, pipeline = $18
WHERE id = $1";

const INSERT_NOTIFICATION: &str = "\
INSERT INTO notifications (alert_ids, route, channel, recipient, subject, text, html, payload, idempotency_key,
    status, attempts, next_attempt_at, created_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'pending', 0, $10, $10)
ON CONFLICT (idempotency_key) DO NOTHING
RETURNING id";

pub(crate) const UPSERT_HEARTBEAT: &str = "\
INSERT INTO heartbeats (source, last_seen) VALUES ($1, $2)
ON CONFLICT (source) DO UPDATE SET
    last_seen = CASE WHEN excluded.last_seen > heartbeats.last_seen THEN excluded.last_seen ELSE heartbeats.last_seen END";

/// Checks a notification and returns its JSON columns (alert ids, payload).
fn prepare_notification(n: &NewNotification) -> Result<(String, String), StoreError> {
    check_nonempty(&[
        ("route", &n.route),
        ("channel", &n.channel),
        ("recipient", &n.recipient),
        ("idempotency_key", &n.idempotency_key),
    ])?;
    if !matches!(n.channel.as_str(), "sms" | "email" | "webhook") {
        return Err(StoreError::InvalidInput(format!("unknown channel {:?}", n.channel)));
    }
    let ids = serde_json::to_string(&n.alert_ids).map_err(|e| StoreError::InvalidInput(e.to_string()))?;
    Ok((ids, encode_json("payload", &n.payload)?))
}

impl Store {
    /// Opens a write transaction on the alert tables; see [`AlertTx`].
    pub async fn begin_alerts(&self) -> Result<AlertTx, StoreError> {
        // SQLite: take the write lock up front (as the capture writes do), so the busy timeout applies and
        // nothing read here goes stale before commit.
        let inner = match &self.pool {
            Pool::Sqlite(pool) => Inner::Sqlite(pool.begin_with("BEGIN IMMEDIATE").await?),
            Pool::Postgres(pool) => Inner::Postgres(pool.begin().await?),
        };
        Ok(AlertTx { inner })
    }
}

impl AlertTx {
    fn lock(&self) -> &'static str {
        match self.inner {
            Inner::Sqlite(_) => "",
            Inner::Postgres(_) => " FOR UPDATE",
        }
    }

    /// The open (pending or firing) alert of `rule` for `asset_id`, if any, locked until commit.
    pub async fn open_alert(&mut self, rule: &str, asset_id: &str) -> Result<Option<AlertRecord>, StoreError> {
        let sql = format!(
            "SELECT {ALERT_COLUMNS} FROM alerts WHERE rule = $1 AND asset_id = $2 AND state IN ('pending', 'firing'){}",
            self.lock()
        );
        let row: Option<AlertRow> = on_tx!(self, tx => {
            sqlx::query_as(&sql).bind(rule).bind(asset_id).fetch_optional(&mut **tx).await?
        });
        row.map(AlertRecord::try_from).transpose()
    }

    /// The alerts `filter` selects, newest first, locked until commit.
    pub async fn alerts(&mut self, filter: &AlertFilter) -> Result<Vec<AlertRecord>, StoreError> {
        let (sql, args) = rows::alert_query(filter, self.lock())?;
        let rows: Vec<AlertRow> = on_tx!(self, tx => {
            bind_args!(sqlx::query_as(&sql), &args).fetch_all(&mut **tx).await?
        });
        rows::alerts(rows)
    }

    /// Inserts a pending alert. Returns `None`, writing nothing, when (rule, asset) already has an open alert: one
    /// committed since this transaction looked, by another process. The caller should roll back and start over.
    pub async fn insert_alert(&mut self, alert: &NewAlert) -> Result<Option<AlertRecord>, StoreError> {
        check_nonempty(&[("rule", &alert.rule), ("asset_id", &alert.asset_id), ("route", &alert.route)])?;
        let detail = encode_json("detail", &alert.detail)?;
        let id: Option<i64> = on_tx!(self, tx => {
            sqlx::query_scalar(INSERT_ALERT)
                .bind(&alert.rule)
                .bind(&alert.asset_id)
                .bind(&alert.site)
                .bind(&alert.pipeline)
                .bind(&alert.route)
                .bind(alert.value)
                .bind(alert.threshold)
                .bind(Ts::new(alert.opened_at))
                .bind(&detail)
                .fetch_optional(&mut **tx)
                .await?
        });
        let Some(id) = id else { return Ok(None) };
        let sql = format!("SELECT {ALERT_COLUMNS} FROM alerts WHERE id = $1");
        let row: AlertRow = on_tx!(self, tx => sqlx::query_as(&sql).bind(id).fetch_one(&mut **tx).await?);
        Ok(Some(AlertRecord::try_from(row)?))
    }

    /// Writes every mutable field of `alert` (all but id, rule, asset, route and opened_at) to its row.
    pub async fn update_alert(&mut self, alert: &AlertRecord) -> Result<(), StoreError> {
        let detail = encode_json("detail", &alert.detail)?;
        let ts = |t: Option<DateTime<Utc>>| t.map(Ts::new);
        let done = on_tx!(self, tx => {
            sqlx::query(UPDATE_ALERT)
                .bind(alert.id)
                .bind(alert.state.as_str())
                .bind(alert.consecutive)
                .bind(alert.value)
                .bind(alert.threshold)
                .bind(Ts::new(alert.updated_at))
                .bind(ts(alert.fired_at))
                .bind(ts(alert.resolved_at))
                .bind(ts(alert.acked_at))
                .bind(&alert.acked_by)
                .bind(ts(alert.last_notified_at))
                .bind(alert.escalation_level)
                .bind(ts(alert.escalated_at))
                .bind(alert.pending_notice.map(|n| n.as_str()))
                .bind(ts(alert.notice_since))
                .bind(&detail)
                .bind(&alert.site)
                .bind(&alert.pipeline)
                .execute(&mut **tx)
                .await?
                .rows_affected()
        });
        if done != 1 {
            return Err(StoreError::InvalidInput(format!("alert {} does not exist", alert.id)));
        }
        Ok(())
    }

    /// Puts a notification in the outbox, due at once. Returns its id, or `None` when a notification with the
    /// same idempotency key is already stored (nothing is written).
    pub async fn enqueue(&mut self, notification: &NewNotification) -> Result<Option<i64>, StoreError> {
        let (alert_ids, payload) = prepare_notification(notification)?;
        let n = notification;
        Ok(on_tx!(self, tx => {
            sqlx::query_scalar(INSERT_NOTIFICATION)
                .bind(&alert_ids)
                .bind(&n.route)
                .bind(&n.channel)
                .bind(&n.recipient)
                .bind(&n.subject)
                .bind(&n.text)
                .bind(&n.html)
                .bind(&payload)
                .bind(&n.idempotency_key)
                .bind(Ts::new(n.created_at))
                .fetch_optional(&mut **tx)
                .await?
        }))
    }

    /// The silences in force at `at`.
    pub async fn active_silences(&mut self, at: DateTime<Utc>) -> Result<Vec<SilenceRecord>, StoreError> {
        let sql = format!("SELECT {SILENCE_COLUMNS} FROM silences WHERE starts_at <= $1 AND ends_at > $1 ORDER BY id");
        let rows: Vec<SilenceRow> = on_tx!(self, tx => {
            sqlx::query_as(&sql).bind(Ts::new(at)).fetch_all(&mut **tx).await?
        });
        Ok(rows.into_iter().map(SilenceRecord::from).collect())
    }

    /// When `source` last delivered data, if ever.
    pub async fn heartbeat(&mut self, source: &str) -> Result<Option<HeartbeatRecord>, StoreError> {
        let row: Option<(String, Ts)> = on_tx!(self, tx => {
            sqlx::query_as("SELECT source, last_seen FROM heartbeats WHERE source = $1")
                .bind(source)
                .fetch_optional(&mut **tx)
                .await?
        });
        Ok(row.map(|(source, last_seen)| HeartbeatRecord { source, last_seen: last_seen.0 }))
    }

    /// Records that `source` delivered data at `at` (keeps the newest time).
    pub async fn record_heartbeat(&mut self, source: &str, at: DateTime<Utc>) -> Result<(), StoreError> {
        check_nonempty(&[("source", source)])?;
        on_tx!(self, tx => {
            sqlx::query(UPSERT_HEARTBEAT).bind(source).bind(Ts::new(at)).execute(&mut **tx).await?.rows_affected()
        });
        Ok(())
    }

    /// The `limit` most recent predictions of `asset_id`, newest first: the trend a message shows.
    pub async fn recent_predictions(&mut self, asset_id: &str, limit: i64) -> Result<Vec<TrendPoint>, StoreError> {
        check_limit(Some(limit))?;
        const SQL: &str = "SELECT scored_at, health_score, model FROM predictions WHERE asset_id = $1 \
            ORDER BY scored_at DESC, id DESC LIMIT $2";
        let rows: Vec<(Ts, f64, String)> = on_tx!(self, tx => {
            sqlx::query_as(SQL).bind(asset_id).bind(limit).fetch_all(&mut **tx).await?
        });
        Ok(rows
            .into_iter()
            .map(|(at, score, model)| TrendPoint { scored_at: at.0, health_score: score, model })
            .collect())
    }

    /// The stored kind of an asset (wheel, inverter), if the asset is stored.
    pub async fn asset_kind(&mut self, asset_id: &str) -> Result<Option<AssetKind>, StoreError> {
        let kind: Option<String> = on_tx!(self, tx => {
            sqlx::query_scalar("SELECT kind FROM assets WHERE id = $1").bind(asset_id).fetch_optional(&mut **tx).await?
        });
        Ok(kind.and_then(|k| AssetKind::parse(&k)))
    }

    /// Commits everything written in this transaction.
    pub async fn commit(self) -> Result<(), StoreError> {
        match self.inner {
            Inner::Sqlite(tx) => tx.commit().await?,
            Inner::Postgres(tx) => tx.commit().await?,
        }
        Ok(())
    }

    /// Discards everything written in this transaction.
    pub async fn rollback(self) -> Result<(), StoreError> {
        match self.inner {
            Inner::Sqlite(tx) => tx.rollback().await?,
            Inner::Postgres(tx) => tx.rollback().await?,
        }
        Ok(())
    }
}
