//! The retention job: every `store.retention_interval_s`, raw rows older than `store.retention_days` (predictions,
//! feature rows, inverter readings) are folded into daily aggregates and deleted (see
//! [`Store::apply_retention`]). Trends and the dashboard read the aggregates for those days. Off when
//! `retention_days` is 0. Replicas may all run it: each day is one transaction and a second run is a no-op.

use std::time::Duration;

use prognos_store::{RetainedTable, Store};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// Raw inverter readings, pruned with the rest.
fn tables() -> Vec<RetainedTable> {
    vec![RetainedTable::readings()]
}

/// Starts the job, or nothing when retention is off.
pub fn spawn(store: Store, days: u32, every_s: u64, shutdown: CancellationToken) -> Option<JoinHandle<()>> {
    if days == 0 {
        return None;
    }
    let every = Duration::from_secs(every_s.max(1));
    Some(tokio::spawn(async move {
        let mut interval = tokio::time::interval(every);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = interval.tick() => {}
            }
            match store.apply_retention(chrono::Utc::now(), days, &tables()).await {
                Ok(r) if r.days > 0 || r.other_rows > 0 => tracing::info!(
                    days = r.days,
                    predictions = r.predictions,
                    feature_rows = r.feature_rows,
                    readings = r.other_rows,
                    watermark = ?r.watermark,
                    "retention folded old raw rows into daily aggregates"
                ),
                Ok(_) => {}
                Err(e) => tracing::error!(error = %e, "retention failed; it is tried again at the next interval"),
            }
        }
    }))
}
