//! The alert state machine for threshold rules, as a pure function of the stored alert and one observation.
//!
//! ```text
//!            breach (count/duration not reached)
//!   (none) ----breach----> pending ----breach, count and duration reached----> firing
//!                             |                                                  |
//!                             +--no breach: cancelled (resolved, never told)      +--clear (past the hysteresis
//!                                                                                 |  margin): resolved
//!                                                                                 +--breach or within the margin:
//!                                                                                    stays firing
//! ```

use chrono::{DateTime, Utc};
use prognos_store::{AlertRecord, AlertState, Notice};

/// A threshold rule's bounds and timing.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Bounds {
    /// Values below breach.
    pub min: Option<f64>,
    /// Values above breach.
    pub max: Option<f64>,
    /// A firing alert clears only this far inside the bounds.
    pub hysteresis: f64,
    /// Breaching observations in a row before firing.
    pub for_count: u32,
    /// Seconds from the first to the latest breaching observation before firing.
    pub for_s: u64,
}

/// How one value relates to the bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reading {
    /// Outside the bounds.
    Breach,
    /// Inside the bounds but within the hysteresis margin: a firing alert stays firing.
    Margin,
    /// Inside the bounds by at least the margin.
    Clear,
}

impl Bounds {
    pub fn classify(&self, value: f64) -> Reading {
        let below = self.min.is_some_and(|m| value < m);
        let above = self.max.is_some_and(|m| value > m);
        if below || above {
            return Reading::Breach;
        }
        let clear_low = self.min.is_none_or(|m| value >= m + self.hysteresis);
        let clear_high = self.max.is_none_or(|m| value <= m - self.hysteresis);
        if clear_low && clear_high {
            Reading::Clear
        } else {
            Reading::Margin
        }
    }

    /// The bound `value` breaches (or the one it is nearest to), for messages.
    pub fn threshold_for(&self, value: f64) -> Option<f64> {
        match (self.min, self.max) {
            (Some(min), Some(max)) => Some(if value > max { max } else { min }),
            (min, max) => min.or(max),
        }
    }
}

/// What an observation did to an open alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Change {
    /// Older than what the alert already saw: nothing changed.
    Stale,
    /// Still pending, or still firing: counts and value updated.
    Updated,
    /// Pending became firing.
    Fired,
    /// A pending alert saw a good value before firing: closed without anyone being told.
    Cancelled,
    /// A firing alert cleared.
    Resolved,
}

/// Applies one observation (`value` at `at`) to an open alert, in place.
pub(crate) fn apply(alert: &mut AlertRecord, bounds: &Bounds, value: f64, at: DateTime<Utc>) -> Change {
    if at < alert.updated_at || !alert.state.is_open() {
        return Change::Stale;
    }
    let reading = bounds.classify(value);
    alert.updated_at = at;
    alert.value = Some(value);
    match (alert.state, reading) {
        (AlertState::Pending, Reading::Breach) => {
            alert.consecutive += 1;
            alert.threshold = bounds.threshold_for(value);
            let lasted = (at - alert.opened_at).num_milliseconds() >= (bounds.for_s as i64).saturating_mul(1000);
            if alert.consecutive >= i64::from(bounds.for_count) && lasted {
                alert.state = AlertState::Firing;
                alert.fired_at = Some(at);
                alert.set_notice(Some(Notice::Firing), at);
                Change::Fired
            } else {
                Change::Updated
            }
        }
        (AlertState::Pending, _) => {
            alert.state = AlertState::Resolved;
            alert.resolved_at = Some(at);
            alert.set_notice(None, at);
            if let Some(detail) = alert.detail.as_object_mut() {
                detail.insert("cancelled".into(), serde_json::Value::Bool(true));
            }
            Change::Cancelled
        }
        (_, Reading::Breach) => {
            alert.consecutive += 1;
            alert.threshold = bounds.threshold_for(value);
            Change::Updated
        }
        (_, Reading::Margin) => Change::Updated,
        (_, Reading::Clear) => {
            resolve(alert, at);
            Change::Resolved
        }
    }
}

/// Resolves a firing alert at `at`: people are told only if they were told it fired; a firing notice still
/// waiting for its group is withdrawn.
pub(crate) fn resolve(alert: &mut AlertRecord, at: DateTime<Utc>) {
    alert.state = AlertState::Resolved;
    alert.resolved_at = Some(at);
    alert.updated_at = alert.updated_at.max(at);
    let notice = alert.last_notified_at.map(|_| Notice::Resolved);
    alert.set_notice(notice, at);
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t(s: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2024, 5, 1, 12, 0, 0).unwrap() + chrono::Duration::seconds(s)
    }

    fn pending(at: DateTime<Utc>) -> AlertRecord {
        AlertRecord {
            id: 1,
            rule: "health".into(),
            asset_id: "W01".into(),
            site: "parkA".into(),
            pipeline: "wheels".into(),
            route: "r".into(),
            state: AlertState::Pending,
            consecutive: 0,
            value: None,
            threshold: None,
            opened_at: at,
            updated_at: at,
            fired_at: None,
            resolved_at: None,
            acked_at: None,
            acked_by: None,
            last_notified_at: None,
            escalation_level: 0,
            escalated_at: None,
            pending_notice: None,
            notice_since: None,
            detail: serde_json::json!({}),
        }
    }

    const HEALTH: Bounds = Bounds { min: Some(70.0), max: None, hysteresis: 5.0, for_count: 1, for_s: 0 };

    #[test]
    fn classification_with_hysteresis() {
        assert_eq!(HEALTH.classify(69.99), Reading::Breach);
        assert_eq!(HEALTH.classify(70.0), Reading::Margin);
        assert_eq!(HEALTH.classify(74.9), Reading::Margin);
        assert_eq!(HEALTH.classify(75.0), Reading::Clear);
        let range = Bounds { min: Some(200.0), max: Some(800.0), hysteresis: 10.0, for_count: 1, for_s: 0 };
        assert_eq!(range.classify(801.0), Reading::Breach);
        assert_eq!(range.classify(795.0), Reading::Margin);
        assert_eq!(range.classify(790.0), Reading::Clear);
        assert_eq!(range.classify(205.0), Reading::Margin);
        assert_eq!(range.threshold_for(801.0), Some(800.0));
        assert_eq!(range.threshold_for(100.0), Some(200.0));
        assert_eq!(HEALTH.classify(f64::NAN), Reading::Margin, "NaN never fires nor resolves");
    }

    #[test]
    fn fires_stays_within_margin_and_resolves_past_it() {
        let mut a = pending(t(0));
        assert_eq!(apply(&mut a, &HEALTH, 69.0, t(0)), Change::Fired);
        assert_eq!((a.state, a.pending_notice, a.fired_at), (AlertState::Firing, Some(Notice::Firing), Some(t(0))));
        assert_eq!(apply(&mut a, &HEALTH, 71.0, t(1)), Change::Updated);
        assert_eq!(apply(&mut a, &HEALTH, 69.0, t(2)), Change::Updated);
        assert_eq!(a.consecutive, 2);
        assert_eq!(apply(&mut a, &HEALTH, 50.0, t(1)), Change::Stale, "older than the last observation");
        // Never told (the notice is still waiting): resolving withdraws it.
        assert_eq!(apply(&mut a, &HEALTH, 76.0, t(3)), Change::Resolved);
        assert_eq!((a.state, a.pending_notice, a.resolved_at), (AlertState::Resolved, None, Some(t(3))));
    }

    #[test]
    fn resolving_a_told_alert_leaves_a_resolved_notice() {
        let mut a = pending(t(0));
        apply(&mut a, &HEALTH, 60.0, t(0));
        a.last_notified_at = Some(t(1));
        a.set_notice(None, t(1));
        assert_eq!(apply(&mut a, &HEALTH, 80.0, t(5)), Change::Resolved);
        assert_eq!((a.pending_notice, a.notice_since), (Some(Notice::Resolved), Some(t(5))));
    }

    #[test]
    fn for_count_and_for_duration_hold_the_alert_pending() {
        let bounds = Bounds { for_count: 3, for_s: 60, ..HEALTH };
        let mut a = pending(t(0));
        assert_eq!(apply(&mut a, &bounds, 60.0, t(0)), Change::Updated);
        assert_eq!(apply(&mut a, &bounds, 60.0, t(10)), Change::Updated);
        assert_eq!(apply(&mut a, &bounds, 60.0, t(20)), Change::Updated, "three in a row, but only 20 s");
        assert_eq!(apply(&mut a, &bounds, 60.0, t(60)), Change::Fired);
        let mut b = pending(t(0));
        apply(&mut b, &bounds, 60.0, t(0));
        assert_eq!(apply(&mut b, &bounds, 72.0, t(10)), Change::Cancelled, "a good value breaks the run");
        assert_eq!((b.state, b.pending_notice), (AlertState::Resolved, None));
    }
}
