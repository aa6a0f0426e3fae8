//! Work claims shared by replicas: before a replica scores a capture it claims the capture's key (its content
//! hash) in `work_claims`; a key held by a live replica is left alone, and the claim of a replica that died
//! expires after its lease and may be taken over.
//!
//! A claim is one `INSERT ... ON CONFLICT (key) DO UPDATE ... WHERE <expired or ours> RETURNING owner`: the
//! primary key serialises concurrent claimers on both engines (PostgreSQL's unique index waits for the first
//! claimer's commit; SQLite writes one at a time), so exactly one replica gets a row back.

use chrono::{DateTime, Duration, Utc};

use crate::connect::on_pool;
use crate::time::Ts;
use crate::{Store, StoreError};

const CLAIM: &str = "\
INSERT INTO work_claims (key, owner, claimed_at, expires_at) VALUES ($1, $2, $3, $4)
ON CONFLICT (key) DO UPDATE SET owner = excluded.owner, claimed_at = excluded.claimed_at,
    expires_at = excluded.expires_at
WHERE work_claims.expires_at <= excluded.claimed_at OR work_claims.owner = excluded.owner
RETURNING owner";

impl Store {
    /// Claims `key` for `owner` (a replica id) until `now + lease`. True when `owner` holds the claim now (new,
    /// renewed, or taken over from an expired holder); false while another owner's claim is live.
    pub async fn claim_work(
        &self,
        key: &str,
        owner: &str,
        now: DateTime<Utc>,
        lease: Duration,
    ) -> Result<bool, StoreError> {
        if key.is_empty() || owner.is_empty() {
            return Err(StoreError::InvalidInput("a work claim needs a key and an owner".into()));
        }
        if lease <= Duration::zero() {
            return Err(StoreError::InvalidInput("a work claim's lease must be positive".into()));
        }
        let got: Option<String> = on_pool!(self, pool => {
            sqlx::query_scalar(CLAIM)
                .bind(key)
                .bind(owner)
                .bind(Ts::new(now))
                .bind(Ts::new(now + lease))
                .fetch_optional(pool)
                .await?
        });
        Ok(got.is_some())
    }

    /// Drops `owner`'s claim on `key` (after the work is stored, or given up). True when there was one.
    pub async fn release_work(&self, key: &str, owner: &str) -> Result<bool, StoreError> {
        let n = on_pool!(self, pool => {
            sqlx::query("DELETE FROM work_claims WHERE key = $1 AND owner = $2")
                .bind(key)
                .bind(owner)
                .execute(pool)
                .await?
                .rows_affected()
        });
        Ok(n > 0)
    }

    /// Deletes claims that expired before `now` (their owners died); returns how many.
    pub async fn purge_expired_claims(&self, now: DateTime<Utc>) -> Result<u64, StoreError> {
        Ok(on_pool!(self, pool => {
            sqlx::query("DELETE FROM work_claims WHERE expires_at <= $1")
                .bind(Ts::new(now))
                .execute(pool)
                .await?
                .rows_affected()
        }))
    }
}
