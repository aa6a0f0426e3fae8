//! When a pass's sends are cut short: a fixed deadline (the final flush) or a grace period after shutdown.

use std::sync::OnceLock;
use std::time::Duration;

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// Shutdown as a deadline: `grace` after the cancellation was first noticed.
pub(super) struct ShutdownDeadline {
    token: CancellationToken,
    grace: Duration,
    noticed: OnceLock<Instant>,
}

impl ShutdownDeadline {
    pub(super) fn new(token: CancellationToken, grace: Duration) -> Self {
        ShutdownDeadline { token, grace, noticed: OnceLock::new() }
    }
}

impl ShutdownDeadline {
    /// The deadline, once the token is cancelled.
    pub(super) fn get(&self) -> Option<Instant> {
        self.token.is_cancelled().then(|| *self.noticed.get_or_init(Instant::now) + self.grace)
    }

    async fn reached(&self) {
        self.token.cancelled().await;
        let deadline = *self.noticed.get_or_init(Instant::now) + self.grace;
        tokio::time::sleep_until(deadline).await;
    }
}

/// When the sends of a pass are cut short, and claimed rows not yet attempted are released instead.
#[derive(Clone, Copy)]
pub(super) struct Cutoff<'a> {
    /// A fixed deadline (the final flush).
    pub deadline: Option<Instant>,
    /// Shutdown of the run loop.
    pub shutdown: Option<&'a ShutdownDeadline>,
}

impl Cutoff<'_> {
    pub(super) const NONE: Cutoff<'static> = Cutoff { deadline: None, shutdown: None };

    pub(super) fn passed(&self) -> bool {
        let now = Instant::now();
        self.deadline.is_some_and(|d| now >= d)
            || self.shutdown.and_then(ShutdownDeadline::get).is_some_and(|d| now >= d)
    }

    pub(super) async fn reached(&self) {
        let deadline = async {
            match self.deadline {
                Some(d) => tokio::time::sleep_until(d).await,
                None => std::future::pending().await,
            }
        };
        let shutdown = async {
            match self.shutdown {
                Some(s) => s.reached().await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            () = deadline => {}
            () = shutdown => {}
        }
    }
}
