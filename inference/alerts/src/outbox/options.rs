//! The outbox worker's settings, and the retry delay they imply.

use std::time::Duration;

use rand::Rng;
use serde::{Deserialize, Serialize};

use super::OutboxError;

/// How the outbox worker claims, sends and retries. Every field has a default; unknown fields are refused.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OutboxOptions {
    /// This worker's id in the claim columns; unique per process. Default: `<HOSTNAME or "prognos">-<pid>-<random>`.
    pub worker_id: String,
    /// How often to look for due notifications when nobody wakes the worker, in milliseconds. Default 1000.
    pub poll_interval_ms: u64,
    /// Most notifications claimed at once. Default 16.
    pub batch_size: u32,
    /// Most sends in flight at once. Default 4.
    pub concurrency: usize,
    /// How long a claim holds, in seconds: a worker that dies mid-send leaves its rows to others after this.
    /// Must be at least twice `send_timeout_ms`. Default 300.
    pub lease_s: u64,
    /// Longest wait for one provider answer, in milliseconds; no answer counts as a transient failure. Default
    /// 30000.
    pub send_timeout_ms: u64,
    /// Upper bound of the first retry delay, in milliseconds; it doubles with every attempt. Default 2000.
    pub initial_backoff_ms: u64,
    /// Cap of the retry delay, in milliseconds. Default 300000 (5 minutes).
    pub max_backoff_ms: u64,
    /// Shortest retry delay, in milliseconds (also applied to a `Retry-After: 0`). Default 100.
    pub min_backoff_ms: u64,
    /// Longest `Retry-After` honoured, in seconds; a longer one is cut to this. Default 3600.
    pub max_retry_after_s: u64,
    /// Give up (mark failed) after this many attempts; 0 never gives up on transient failures, which keeps an
    /// alert queued through a long provider outage (the pending gauge and its age show it). Default 0.
    pub max_attempts: u32,
    /// On shutdown, how long to keep sending what is due before stopping, in milliseconds. Default 10000.
    pub shutdown_grace_ms: u64,
}

impl Default for OutboxOptions {
    fn default() -> Self {
        OutboxOptions {
            worker_id: default_worker_id(),
            poll_interval_ms: 1000,
            batch_size: 16,
            concurrency: 4,
            lease_s: 300,
            send_timeout_ms: 30_000,
            initial_backoff_ms: 2000,
            max_backoff_ms: 300_000,
            min_backoff_ms: 100,
            max_retry_after_s: 3600,
            max_attempts: 0,
            shutdown_grace_ms: 10_000,
        }
    }
}

fn default_worker_id() -> String {
    let host = std::env::var("HOSTNAME").ok().filter(|h| !h.is_empty()).unwrap_or_else(|| "prognos".into());
    format!("{host}-{}-{:08x}", std::process::id(), rand::rng().random::<u32>())
}

impl OutboxOptions {
    /// Refuses settings that would lose or double notifications, or spin.
    pub fn validate(&self) -> Result<(), OutboxError> {
        let bad = |reason: String| Err(OutboxError::Options(reason));
        if self.worker_id.is_empty() {
            return bad("worker_id is empty".into());
        }
        if self.batch_size == 0 || self.concurrency == 0 || self.poll_interval_ms == 0 {
            return bad("batch_size, concurrency and poll_interval_ms must be greater than 0".into());
        }
        if self.send_timeout_ms == 0 {
            return bad("send_timeout_ms must be greater than 0".into());
        }
        if self.lease_s.saturating_mul(1000) < self.send_timeout_ms.saturating_mul(2) {
            return bad(format!(
                "lease_s ({} s) must be at least twice send_timeout_ms ({} ms), or a slow send would be re-sent by \
                 another worker while still running",
                self.lease_s, self.send_timeout_ms
            ));
        }
        if self.initial_backoff_ms == 0 || self.max_backoff_ms < self.initial_backoff_ms {
            return bad("initial_backoff_ms must be > 0 and at most max_backoff_ms".into());
        }
        if self.min_backoff_ms == 0 {
            return bad("min_backoff_ms must be greater than 0".into());
        }
        Ok(())
    }

    pub(crate) fn lease(&self) -> Duration {
        Duration::from_secs(self.lease_s)
    }

    pub(crate) fn send_timeout(&self) -> Duration {
        Duration::from_millis(self.send_timeout_ms)
    }

    /// The delay before attempt `attempts + 1`: exactly `retry_after` when the provider gave one (within
    /// [`Self::max_retry_after_s`]), otherwise "full jitter" exponential backoff: uniform in
    /// `[0, min(max_backoff, initial_backoff * 2^(attempts-1))]`. Never below `min_backoff_ms`.
    pub fn retry_delay(&self, attempts: i64, retry_after: Option<Duration>, rng: &mut impl Rng) -> Duration {
        let floor = Duration::from_millis(self.min_backoff_ms);
        if let Some(after) = retry_after {
            return after.min(Duration::from_secs(self.max_retry_after_s)).max(floor);
        }
        let exponent = u32::try_from(attempts.saturating_sub(1).clamp(0, 40)).unwrap_or(40);
        let cap = self.initial_backoff_ms.saturating_mul(1u64 << exponent).min(self.max_backoff_ms);
        Duration::from_millis(rng.random_range(0..=cap)).max(floor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_is_capped_and_jittered() {
        let o = OutboxOptions::default();
        let mut rng = rand::rng();
        for attempts in 1..=30 {
            let cap = (2000u64 << (attempts - 1).min(20)).min(300_000);
            for _ in 0..50 {
                let d = o.retry_delay(attempts, None, &mut rng);
                assert!(d >= Duration::from_millis(100) && d <= Duration::from_millis(cap), "{attempts}: {d:?}");
            }
        }
        // Jitter: delays for the same attempt differ.
        let delays: std::collections::HashSet<_> = (0..20).map(|_| o.retry_delay(8, None, &mut rng)).collect();
        assert!(delays.len() > 10);
    }

    #[test]
    fn retry_after_is_exact_within_bounds() {
        let o = OutboxOptions::default();
        let mut rng = rand::rng();
        assert_eq!(o.retry_delay(1, Some(Duration::from_secs(30)), &mut rng), Duration::from_secs(30));
        assert_eq!(o.retry_delay(9, Some(Duration::ZERO), &mut rng), Duration::from_millis(100));
        assert_eq!(o.retry_delay(1, Some(Duration::from_secs(86_400)), &mut rng), Duration::from_secs(3600));
    }

    #[test]
    fn unsafe_settings_are_refused() {
        OutboxOptions::default().validate().unwrap();
        assert!(OutboxOptions { lease_s: 30, ..Default::default() }.validate().is_err());
        assert!(OutboxOptions { batch_size: 0, ..Default::default() }.validate().is_err());
        assert!(OutboxOptions { worker_id: String::new(), ..Default::default() }.validate().is_err());
        assert!(OutboxOptions { max_backoff_ms: 1, ..Default::default() }.validate().is_err());
        assert_ne!(OutboxOptions::default().worker_id, OutboxOptions::default().worker_id);
    }
}
