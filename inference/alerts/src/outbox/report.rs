//! What the worker did: per pass ([`DrainReport`]) and since it was built ([`OutboxStats`]).

use std::sync::atomic::AtomicU64;

/// What one pass of the worker did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DrainReport {
    /// Rows claimed.
    pub claimed: usize,
    /// Accepted by the provider and recorded as sent.
    pub sent: usize,
    /// Failed transiently, rescheduled.
    pub retried: usize,
    /// Failed for good.
    pub failed: usize,
    /// Given back unattempted (shutdown deadline, or already handled in this pass).
    pub released: usize,
    /// Outcome not recorded (store error, or the claim was lost); the row is retried after its lease.
    pub unrecorded: usize,
}

impl DrainReport {
    /// Attempts made (sends started).
    pub fn attempts(&self) -> usize {
        self.sent + self.retried + self.failed + self.unrecorded
    }

    pub(super) fn add(&mut self, outcome: Outcome) {
        match outcome {
            Outcome::Sent => self.sent += 1,
            Outcome::Retried => self.retried += 1,
            Outcome::Failed => self.failed += 1,
            Outcome::Released => self.released += 1,
            Outcome::Unrecorded => self.unrecorded += 1,
        }
    }
}

/// Totals since the worker was built.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OutboxStats {
    /// Notifications delivered.
    pub sent: u64,
    /// Transient failures (each rescheduled).
    pub retried: u64,
    /// Notifications failed for good.
    pub failed: u64,
    /// Outcomes that could not be recorded.
    pub unrecorded: u64,
}

#[derive(Debug, Default)]
pub(super) struct Counters {
    pub sent: AtomicU64,
    pub retried: AtomicU64,
    pub failed: AtomicU64,
    pub unrecorded: AtomicU64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Outcome {
    Sent,
    Retried,
    Failed,
    Released,
    Unrecorded,
}
