//! Alert reads, acknowledgement, silences and heartbeats outside an [`crate::AlertTx`].

use chrono::{DateTime, Utc};

use crate::connect::on_pool;
use crate::time::Ts;
use crate::{Store, StoreError};

use super::records::{check_nonempty, AckOutcome, AlertFilter, AlertRecord, HeartbeatRecord, NewSilence};
use super::records::{AlertState, SilenceRecord};
use super::rows::{self, bind_args, AlertRow, SilenceRow, ALERT_COLUMNS, SILENCE_COLUMNS};
use super::tx::UPSERT_HEARTBEAT;

const ACKNOWLEDGE: &str = "\
UPDATE alerts SET acked_at = $2, acked_by = $3
WHERE id = $1 AND acked_at IS NULL AND state IN ('pending', 'firing')";

const INSERT_SILENCE: &str = "\
INSERT INTO silences (asset_id, site, starts_at, ends_at, reason, created_by, created_at)
VALUES ($1, $2, $3, $4, $5, $6, $7)
RETURNING id";

impl Store {
    /// One alert by id.
    pub async fn alert(&self, id: i64) -> Result<Option<AlertRecord>, StoreError> {
        let sql = format!("SELECT {ALERT_COLUMNS} FROM alerts WHERE id = $1");
        let row: Option<AlertRow> = on_pool!(self, pool => sqlx::query_as(&sql).bind(id).fetch_optional(pool).await?);
        row.map(AlertRecord::try_from).transpose()
    }

    /// The alerts `filter` selects, newest first (by `opened_at`, then id).
    pub async fn alerts(&self, filter: &AlertFilter) -> Result<Vec<AlertRecord>, StoreError> {
        let (sql, args) = rows::alert_query(filter, "")?;
        let rows: Vec<AlertRow> =
            on_pool!(self, pool => bind_args!(sqlx::query_as(&sql), &args).fetch_all(pool).await?);
        rows::alerts(rows)
    }

    /// Records that `by` acknowledged the open alert `id` at `at`: its repeats and escalation stop. An alert is
    /// acknowledged once; the first acknowledgement is kept.
    pub async fn acknowledge_alert(&self, id: i64, by: &str, at: DateTime<Utc>) -> Result<AckOutcome, StoreError> {
        check_nonempty(&[("acknowledged by", by)])?;
        let done = on_pool!(self, pool => {
            sqlx::query(ACKNOWLEDGE).bind(id).bind(Ts::new(at)).bind(by).execute(pool).await?.rows_affected()
        });
        let Some(alert) = self.alert(id).await? else { return Ok(AckOutcome::NotFound) };
        Ok(if done == 1 {
            AckOutcome::Acknowledged(alert)
        } else if alert.state == AlertState::Resolved && alert.acked_at.is_none() {
            AckOutcome::Resolved(alert)
        } else {
            AckOutcome::AlreadyAcknowledged(alert)
        })
    }

    /// Records a silence (maintenance window) and returns its id.
    pub async fn create_silence(&self, silence: &NewSilence) -> Result<i64, StoreError> {
        check_nonempty(&[("reason", &silence.reason), ("created_by", &silence.created_by)])?;
        if silence.asset_id.is_none() && silence.site.is_none() {
            return Err(StoreError::InvalidInput("a silence needs an asset, a site or both".into()));
        }
        if silence.asset_id.as_deref() == Some("") || silence.site.as_deref() == Some("") {
            return Err(StoreError::InvalidInput("a silence's asset or site is empty".into()));
        }
        let (starts, ends) = (Ts::new(silence.starts_at), Ts::new(silence.ends_at));
        if ends <= starts {
            return Err(StoreError::InvalidInput(format!(
                "silence ends ({}) at or before it starts ({})",
                silence.ends_at, silence.starts_at
            )));
        }
        Ok(on_pool!(self, pool => {
            sqlx::query_scalar(INSERT_SILENCE)
                .bind(&silence.asset_id)
                .bind(&silence.site)
                .bind(starts)
                .bind(ends)
                .bind(&silence.reason)
                .bind(&silence.created_by)
                .bind(Ts::new(Utc::now()))
                .fetch_one(pool)
                .await?
        }))
    }

    /// The silences in force at `active_at` (start inclusive, end exclusive), or every silence when `None`; newest
    /// first.
    pub async fn silences(&self, active_at: Option<DateTime<Utc>>) -> Result<Vec<SilenceRecord>, StoreError> {
        let rows: Vec<SilenceRow> = match active_at {
            Some(at) => {
                let sql = format!(
                    "SELECT {SILENCE_COLUMNS} FROM silences WHERE starts_at <= $1 AND ends_at > $1 \
                     ORDER BY starts_at DESC, id DESC"
                );
                on_pool!(self, pool => sqlx::query_as(&sql).bind(Ts::new(at)).fetch_all(pool).await?)
            }
            None => {
                let sql = format!("SELECT {SILENCE_COLUMNS} FROM silences ORDER BY starts_at DESC, id DESC");
                on_pool!(self, pool => sqlx::query_as(&sql).fetch_all(pool).await?)
            }
        };
        Ok(rows.into_iter().map(SilenceRecord::from).collect())
    }

    /// Ends silence `id` at `at`: one already running stops then, one not yet started is deleted. Returns false
    /// when there is no such silence or it had ended by `at`.
    pub async fn end_silence(&self, id: i64, at: DateTime<Utc>) -> Result<bool, StoreError> {
        let at = Ts::new(at);
        let done = on_pool!(self, pool => {
            let deleted = sqlx::query("DELETE FROM silences WHERE id = $1 AND starts_at >= $2")
                .bind(id)
                .bind(at)
                .execute(pool)
                .await?;
            if deleted.rows_affected() > 0 {
                deleted.rows_affected()
            } else {
                sqlx::query("UPDATE silences SET ends_at = $2 WHERE id = $1 AND ends_at > $2")
                    .bind(id)
                    .bind(at)
                    .execute(pool)
                    .await?
                    .rows_affected()
            }
        });
        Ok(done > 0)
    }

    /// Records that `source` delivered data at `at`. The newest time wins, so late or replayed data cannot move it
    /// back.
    pub async fn record_heartbeat(&self, source: &str, at: DateTime<Utc>) -> Result<(), StoreError> {
        check_nonempty(&[("source", source)])?;
        on_pool!(self, pool => {
            sqlx::query(UPSERT_HEARTBEAT).bind(source).bind(Ts::new(at)).execute(pool).await?.rows_affected()
        });
        Ok(())
    }

    /// When `source` last delivered data, if ever.
    pub async fn heartbeat(&self, source: &str) -> Result<Option<HeartbeatRecord>, StoreError> {
        let row: Option<(String, Ts)> = on_pool!(self, pool => {
            sqlx::query_as("SELECT source, last_seen FROM heartbeats WHERE source = $1")
                .bind(source)
                .fetch_optional(pool)
                .await?
        });
        Ok(row.map(|(source, last_seen)| HeartbeatRecord { source, last_seen: last_seen.0 }))
    }

    /// Every source's last delivery, by source name.
    pub async fn heartbeats(&self) -> Result<Vec<HeartbeatRecord>, StoreError> {
        let rows: Vec<(String, Ts)> = on_pool!(self, pool => {
            sqlx::query_as("SELECT source, last_seen FROM heartbeats ORDER BY source").fetch_all(pool).await?
        });
        Ok(rows.into_iter().map(|(source, last_seen)| HeartbeatRecord { source, last_seen: last_seen.0 }).collect())
    }
}
