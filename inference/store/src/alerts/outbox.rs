//! The outbox's life cycle: enqueue, claim with a lease, then sent, retry or failed; reads and counts.
//!
//! Claiming is one statement that picks due rows and marks them `sending` with the claimer's id and a lease end
//! (`claimed_until`), and counts the attempt. On PostgreSQL the pick is `FOR UPDATE SKIP LOCKED`, so two
//! processes claiming at once take disjoint rows instead of waiting for each other; on SQLite the statement runs
//! inside `BEGIN IMMEDIATE`, which serialises claimers. A row whose lease has ended (its claimer crashed or hung
//! mid-send) is claimable again. The later updates check the claim, except "sent": a delivery is a fact worth
//! recording whoever learns it, and a sent row is never claimed again.

use chrono::{DateTime, Utc};

use crate::connect::{on_pool, Pool};
use crate::time::Ts;
use crate::{Store, StoreError};

use super::records::{check_limit, check_nonempty, Claim, NewNotification, NotificationCounts, NotificationFilter};
use super::records::{NotificationRecord, NotificationStatus};
use super::rows::{self, bind_args, Arg, Conditions, NotificationRow, NOTIFICATION_COLUMNS};

const MARK_SENT: &str = "\
UPDATE notifications SET status = 'sent', provider_id = $2, sent_at = $3, claimed_until = NULL
WHERE id = $1 AND status <> 'sent'";

const RETRY: &str = "\
UPDATE notifications SET status = 'pending', next_attempt_at = $3, last_error = $4, claimed_until = NULL
WHERE id = $1 AND status = 'sending' AND claimed_by = $2";

const FAIL: &str = "\
UPDATE notifications SET status = 'failed', last_error = $3, failed_at = $4, claimed_until = NULL
WHERE id = $1 AND status = 'sending' AND claimed_by = $2";

const RELEASE: &str = "\
UPDATE notifications SET status = 'pending', claimed_until = NULL, attempts = attempts - 1
WHERE id = $1 AND status = 'sending' AND claimed_by = $2";

/// The claim statement: channels are bound from `$5` on.
fn claim_sql(pool: &Pool, channels: usize) -> String {
    let channels = (0..channels).map(|i| format!("${}", i + 5)).collect::<Vec<_>>().join(", ");
    let skip_locked = match pool {
        Pool::Sqlite(_) => "",
        Pool::Postgres(_) => " FOR UPDATE SKIP LOCKED",
    };
    format!(
        "UPDATE notifications SET status = 'sending', claimed_by = $1, claimed_until = $2, attempts = attempts + 1 \
         WHERE id IN (SELECT id FROM notifications \
             WHERE ((status = 'pending' AND next_attempt_at <= $3) OR (status = 'sending' AND claimed_until <= $3)) \
               AND channel IN ({channels}) \
             ORDER BY next_attempt_at, id LIMIT $4{skip_locked}) \
         RETURNING {NOTIFICATION_COLUMNS}"
    )
}

impl Store {
    /// Puts a notification in the outbox outside any alert transaction (e.g. a test message). Returns its id, or
    /// `None` when its idempotency key is already stored.
    pub async fn enqueue_notification(&self, notification: &NewNotification) -> Result<Option<i64>, StoreError> {
        let mut tx = self.begin_alerts().await?;
        let id = tx.enqueue(notification).await?;
        tx.commit().await?;
        Ok(id)
    }

    /// Claims up to `claim.limit` due notifications for `claim.worker` (see the module docs), oldest due first.
    pub async fn claim_notifications(&self, claim: &Claim) -> Result<Vec<NotificationRecord>, StoreError> {
        check_nonempty(&[("worker", &claim.worker)])?;
        check_limit(Some(claim.limit))?;
        if claim.channels.is_empty() || claim.limit == 0 {
            return Ok(Vec::new());
        }
        let lease = chrono::Duration::from_std(claim.lease)
            .map_err(|_| StoreError::InvalidInput(format!("lease {:?} is too long", claim.lease)))?;
        let until = Ts::new(claim.now + lease);
        let sql = claim_sql(&self.pool, claim.channels.len());
        let begin = match &self.pool {
            Pool::Sqlite(_) => "BEGIN IMMEDIATE",
            Pool::Postgres(_) => "BEGIN",
        };
        let rows: Vec<NotificationRow> = on_pool!(self, pool => {
            let mut tx = pool.begin_with(begin).await?;
            let mut query =
                sqlx::query_as(&sql).bind(&claim.worker).bind(until).bind(Ts::new(claim.now)).bind(claim.limit);
            for channel in &claim.channels {
                query = query.bind(channel);
            }
            let rows = query.fetch_all(&mut *tx).await?;
            tx.commit().await?;
            rows
        });
        let mut claimed = rows::notifications(rows)?;
        claimed.sort_by_key(|n| (n.next_attempt_at, n.id));
        Ok(claimed)
    }

    /// Records that the provider accepted notification `id` (its message id, the time). Returns false when it was
    /// already recorded as sent (the first record is kept).
    pub async fn mark_notification_sent(
        &self,
        id: i64,
        provider_id: &str,
        at: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let done = on_pool!(self, pool => {
            sqlx::query(MARK_SENT).bind(id).bind(provider_id).bind(Ts::new(at)).execute(pool).await?.rows_affected()
        });
        Ok(done == 1)
    }

    /// Puts notification `id`, claimed by `worker`, back in the queue, due at `next_attempt_at`, with the reason.
    /// Returns false when `worker` no longer holds the claim (nothing changes).
    pub async fn retry_notification(
        &self,
        id: i64,
        worker: &str,
        next_attempt_at: DateTime<Utc>,
        error: &str,
    ) -> Result<bool, StoreError> {
        let done = on_pool!(self, pool => {
            sqlx::query(RETRY).bind(id).bind(worker).bind(Ts::new(next_attempt_at)).bind(error).execute(pool).await?.rows_affected()
        });
        Ok(done == 1)
    }

    /// Marks notification `id`, claimed by `worker`, failed for good. Returns false when `worker` no longer holds
    /// the claim (nothing changes).
    pub async fn fail_notification(
        &self,
        id: i64,
        worker: &str,
        error: &str,
        at: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let done = on_pool!(self, pool => {
            sqlx::query(FAIL).bind(id).bind(worker).bind(error).bind(Ts::new(at)).execute(pool).await?.rows_affected()
        });
        Ok(done == 1)
    }

    /// Gives back claims `worker` holds on `ids` without an attempt having been made (the attempt is uncounted),
    /// so that any worker may claim them at once. Returns how many were given back.
    pub async fn release_notifications(&self, ids: &[i64], worker: &str) -> Result<u64, StoreError> {
        let mut released = 0;
        for id in ids {
            released += on_pool!(self, pool => {
                sqlx::query(RELEASE).bind(id).bind(worker).execute(pool).await?.rows_affected()
            });
        }
        Ok(released)
    }

    /// One notification by id.
    pub async fn notification(&self, id: i64) -> Result<Option<NotificationRecord>, StoreError> {
        let sql = format!("SELECT {NOTIFICATION_COLUMNS} FROM notifications WHERE id = $1");
        let row: Option<NotificationRow> =
            on_pool!(self, pool => sqlx::query_as(&sql).bind(id).fetch_optional(pool).await?);
        row.map(NotificationRecord::try_from).transpose()
    }

    /// The notifications `filter` selects, newest first (by creation, then id).
    pub async fn notifications(&self, filter: &NotificationFilter) -> Result<Vec<NotificationRecord>, StoreError> {
        check_limit(filter.limit)?;
        let mut c = Conditions::default();
        if let Some(status) = filter.status {
            c.push("status = ?", Arg::Text(status.as_str().into()));
        }
        for (column, value) in
            [("channel", &filter.channel), ("recipient", &filter.recipient), ("route", &filter.route)]
        {
            if let Some(value) = value {
                c.push(&format!("{column} = ?"), Arg::Text(value.clone()));
            }
        }
        if let Some(alert_id) = filter.alert_id {
            // `alert_ids` is a compact JSON array ("[1,2,3]"): match ",<id>," in ",1,2,3,".
            c.push(
                "(',' || replace(replace(alert_ids, '[', ''), ']', '') || ',') LIKE ?",
                Arg::Text(format!("%,{alert_id},%")),
            );
        }
        let mut sql = format!(
            "SELECT {NOTIFICATION_COLUMNS} FROM notifications{} ORDER BY created_at DESC, id DESC",
            c.where_clause()
        );
        if let Some(limit) = filter.limit {
            sql.push_str(&format!(" LIMIT {}", c.next_placeholder()));
            c.args.push(Arg::Int(limit));
        }
        let rows: Vec<NotificationRow> =
            on_pool!(self, pool => bind_args!(sqlx::query_as(&sql), &c.args).fetch_all(pool).await?);
        rows::notifications(rows)
    }

    /// How many notifications are in each status, and the creation time of the oldest unsent one.
    pub async fn notification_counts(&self) -> Result<NotificationCounts, StoreError> {
        const BY_STATUS: &str = "SELECT status, COUNT(*) FROM notifications GROUP BY status";
        const OLDEST: &str = "SELECT MIN(created_at) FROM notifications WHERE status IN ('pending', 'sending')";
        let (by_status, oldest): (Vec<(String, i64)>, Option<Ts>) = on_pool!(self, pool => {
            let by_status = sqlx::query_as(BY_STATUS).fetch_all(pool).await?;
            let oldest = sqlx::query_scalar(OLDEST).fetch_one(pool).await?;
            (by_status, oldest)
        });
        let mut counts = NotificationCounts { oldest_unsent: oldest.map(|t| t.0), ..NotificationCounts::default() };
        for (status, n) in by_status {
            match NotificationStatus::parse(&status) {
                Some(NotificationStatus::Pending) => counts.pending = n,
                Some(NotificationStatus::Sending) => counts.sending = n,
                Some(NotificationStatus::Sent) => counts.sent = n,
                Some(NotificationStatus::Failed) => counts.failed = n,
                None => {
                    return Err(StoreError::Corrupt { what: "notifications.status", detail: format!("{status:?}") })
                }
            }
        }
        Ok(counts)
    }
}
