//! Rules and alert state: observations in, alert rows and outbox notifications out.
//!
//! [`AlertEngine`] applies three kinds of rule: a health score below a threshold, a metric outside a range, and
//! no data from a source for longer than expected. State lives in the store, one row per episode, at most one
//! open row per (rule, asset), so a restart continues where it left off and several processes can share a
//! PostgreSQL database:
//!
//! - A breach opens a **pending** alert; it **fires** after `for_count` breaching values in a row (and `for_s`
//!   seconds). A firing alert **resolves** only once the value is back past the hysteresis margin, so a score
//!   wavering around 70 gives one alert, not one per capture. Further breaches update the same row (dedup).
//! - Firing and resolving leave a *pending notice* on the row, in the same transaction. [`AlertEngine::tick`]
//!   collects the notices of its route and, once the oldest has waited `group_wait_ms`, writes **one message per
//!   contact and channel** listing them all, in the transaction that clears the notices. So the intent to notify
//!   is durable from the moment of the state change, and each notification row is written exactly once (its
//!   idempotency key is derived from the alerts and transitions it tells about).
//! - The tick also repeats firing, unacknowledged alerts every `repeat_interval_s`, escalates them to the next
//!   level of the route after `escalate_after_s` without acknowledgement, and checks the no-data rules.
//! - Silences (maintenance windows) suppress notices about the assets or sites they cover; alert state is still
//!   recorded, and an alert that fired during a silence is told once the silence is over if it is still firing.
//!
//! Nothing here sends: the outbox worker ([`crate::outbox`]) does.

mod config;
mod dispatch;
mod events;
mod message;
mod rules;
mod test_send;

use std::collections::HashSet;
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use prognos_store::{AckOutcome, AlertFilter, AlertRecord, NewAlert, NewSilence, Store, StoreError};
use serde_json::{json, Value};

pub use config::{
    Contact, DriftRule, EngineConfig, HealthRule, NoDataRule, RangeRule, Route, DRIFT_RULE, HEALTH_RULE, NO_DATA_RULE,
    RANGE_RULE_PREFIX,
};
pub use message::MAX_SMS_SEGMENTS;
pub use test_send::TestNotification;

use crate::outbox::OutboxWaker;
use rules::{Bounds, Change, Reading};

/// How often a write that lost a race for the same (rule, asset) to another process is retried.
const MAX_TRIES: usize = 5;

/// Everything the engine can fail with.
#[derive(Debug, thiserror::Error)]
pub enum AlertError {
    /// The store failed (connection, constraint, corrupt row) or refused the input.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The configuration would give wrong or silent alerts.
    #[error("invalid alert configuration: {0}")]
    Config(String),
    /// An observation that cannot be judged (a non-finite value, an empty asset id).
    #[error("invalid observation: {0}")]
    Observation(String),
    /// No alert has this id.
    #[error("alert {0} does not exist")]
    NotFound(i64),
    /// The alert is resolved: there is nothing to acknowledge.
    #[error("alert {0} is resolved")]
    NotOpen(i64),
    /// No route has this name.
    #[error("no alert route named {0:?}")]
    UnknownRoute(String),
    /// Other processes kept winning the race to write the same alert.
    #[error("alert for rule {rule} and asset {asset_id}: gave up after {MAX_TRIES} conflicting writes")]
    Contention {
        /// The rule.
        rule: String,
        /// The asset.
        asset_id: String,
    },
}

/// Where an observation comes from.
/// One metric value for [`AlertEngine::observe_metrics`].
#[derive(Debug, Clone, Copy)]
pub struct MetricValue<'a> {
    /// The asset it was measured on.
    pub asset_id: &'a str,
    /// The metric's name (a range rule's `metric`).
    pub metric: &'a str,
    /// The value.
    pub value: f64,
    /// When it was measured.
    pub at: DateTime<Utc>,
}

struct Observation<'a> {
    rule: &'a str,
    bounds: Bounds,
    pipeline: &'a str,
    site: &'a str,
    asset_id: &'a str,
    value: f64,
    detail: Value,
    at: DateTime<Utc>,
}

/// The alert engine of one route; see the module docs. Cheap to share behind an `Arc`; all state is in the store.
pub struct AlertEngine {
    store: Store,
    config: EngineConfig,
    /// The first tick's time: the start of the silence of a source never heard from.
    first_tick: Mutex<Option<DateTime<Utc>>>,
    waker: Option<OutboxWaker>,
    /// Notified when an alert fires or resolves, so that the tick loop dispatches at once.
    changed: std::sync::Arc<tokio::sync::Notify>,
}

impl std::fmt::Debug for AlertEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AlertEngine").field("route", &self.config.route.name).finish_non_exhaustive()
    }
}

impl AlertEngine {
    /// An engine over `store` with `config`, refused when the configuration is invalid (see
    /// [`EngineConfig::validate`]).
    pub fn new(store: Store, config: EngineConfig) -> Result<Self, AlertError> {
        config.validate()?;
        Ok(AlertEngine { store, config, first_tick: Mutex::new(None), waker: None, changed: Default::default() })
    }

    /// Wakes the outbox worker whenever a tick enqueues notifications, instead of leaving them to its next poll.
    pub fn with_outbox_waker(mut self, waker: OutboxWaker) -> Self {
        self.waker = Some(waker);
        self
    }

    /// Completes when an alert has fired or resolved since the last call (or right away if one did before it was
    /// awaited): the tick loop awaits it next to its interval, so that a notification due now is not left to the
    /// next tick.
    pub async fn changed(&self) {
        self.changed.notified().await;
    }

    /// The configuration in force.
    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    /// Judges a health score of `asset_id` (scored by `model` at `at`) against the health rule. Observations older
    /// than the latest one the alert saw are ignored.
    pub async fn observe_health(
        &self,
        pipeline: &str,
        site: &str,
        asset_id: &str,
        health: f64,
        model: &str,
        at: DateTime<Utc>,
    ) -> Result<(), AlertError> {
        self.observe_health_explained(pipeline, site, asset_id, health, model, &[], at).await
    }

    /// Like [`AlertEngine::observe_health`], with the features that pulled the score down most (name and
    /// contribution in health points, most negative first): the alert keeps those of its latest score, and
    /// messages name them.
    #[allow(clippy::too_many_arguments)]
    pub async fn observe_health_explained(
        &self,
        pipeline: &str,
        site: &str,
        asset_id: &str,
        health: f64,
        model: &str,
        drivers: &[(String, f64)],
        at: DateTime<Utc>,
    ) -> Result<(), AlertError> {
        let h = &self.config.health;
        let bounds = Bounds {
            min: Some(h.threshold),
            max: None,
            hysteresis: h.hysteresis,
            for_count: h.for_count,
            for_s: h.for_s,
        };
        let drivers: Vec<Value> = drivers
            .iter()
            .map(|(feature, contribution)| json!({ "feature": feature, "contribution": contribution }))
            .collect();
        let detail = json!({ "model": model, "drivers": drivers });
        let rule = HEALTH_RULE;
        self.observe(Observation { rule, bounds, pipeline, site, asset_id, value: health, detail, at }).await
    }

    /// Judges a metric value against the range rule for `metric`; a metric without a rule is ignored.
    pub async fn observe_metric(
        &self,
        pipeline: &str,
        site: &str,
        asset_id: &str,
        metric: &str,
        value: f64,
        at: DateTime<Utc>,
    ) -> Result<(), AlertError> {
        let Some(r) = self.config.ranges.iter().find(|r| r.metric == metric) else { return Ok(()) };
        let bounds =
            Bounds { min: r.min, max: r.max, hysteresis: r.hysteresis, for_count: r.for_count, for_s: r.for_s };
        let rule = format!("{RANGE_RULE_PREFIX}{metric}");
        let detail = json!({ "min": r.min, "max": r.max });
        self.observe(Observation { rule: &rule, bounds, pipeline, site, asset_id, value, detail, at }).await
    }

    /// Judges many metric values of one site at once, as [`AlertEngine::observe_metric`] would one by one in the
    /// order given: the open alerts are read once, and only a value outside its range or a value of an asset
    /// whose rule has an open alert goes through the alert's transaction, so a batch of good values costs one
    /// query. Values of metrics without a rule are ignored. Every value is judged; the first error is returned
    /// after, with the number of values that failed.
    pub async fn observe_metrics(
        &self,
        pipeline: &str,
        site: &str,
        values: &[MetricValue<'_>],
    ) -> Result<(), (usize, AlertError)> {
        let ruled: Vec<(&MetricValue<'_>, &RangeRule)> = values
            .iter()
            .filter_map(|v| self.config.ranges.iter().find(|r| r.metric == v.metric).map(|r| (v, r)))
            .collect();
        if ruled.is_empty() {
            return Ok(());
        }
        let filter = AlertFilter { open_only: true, ..AlertFilter::default() };
        let mut open: HashSet<(String, String)> = match self.store.alerts(&filter).await {
            Ok(alerts) => alerts.into_iter().map(|a| (a.rule, a.asset_id)).collect(),
            Err(e) => return Err((ruled.len(), e.into())),
        };
        let mut failed: Option<(usize, AlertError)> = None;
        for (v, r) in ruled {
            let bounds =
                Bounds { min: r.min, max: r.max, hysteresis: r.hysteresis, for_count: r.for_count, for_s: r.for_s };
            let key = (format!("{RANGE_RULE_PREFIX}{}", v.metric), v.asset_id.to_string());
            let breach = bounds.classify(v.value) == Reading::Breach;
            if !breach && v.value.is_finite() && !open.contains(&key) {
                continue;
            }
            if let Err(e) = self.observe_metric(pipeline, site, v.asset_id, v.metric, v.value, v.at).await {
                let f = failed.get_or_insert((0, e));
                f.0 += 1;
                continue;
            }
            if breach {
                open.insert(key);
            }
        }
        failed.map_or(Ok(()), Err)
    }

    /// Judges the input drift of `model` (the highest per-feature population stability index of its active
    /// `version`, on `feature`) against the drift rule. The alert's asset is the model's name; `pipeline` and
    /// `site` are those the model serves (for messages and silences). Nothing happens when the rule is disabled.
    #[allow(clippy::too_many_arguments)]
    pub async fn observe_drift(
        &self,
        pipeline: &str,
        site: &str,
        model: &str,
        version: &str,
        feature: &str,
        psi: f64,
        at: DateTime<Utc>,
    ) -> Result<(), AlertError> {
        let d = &self.config.drift;
        if !d.enabled {
            return Ok(());
        }
        let bounds = Bounds {
            min: None,
            max: Some(d.threshold),
            hysteresis: d.hysteresis,
            for_count: d.for_count,
            for_s: d.for_s,
        };
        let detail = json!({ "model": model, "version": version, "feature": feature, "psi": psi });
        let rule = DRIFT_RULE;
        self.observe(Observation { rule, bounds, pipeline, site, asset_id: model, value: psi, detail, at }).await
    }

    async fn observe(&self, o: Observation<'_>) -> Result<(), AlertError> {
        if !o.value.is_finite() {
            return Err(AlertError::Observation(format!("{} of {} is {}", o.rule, o.asset_id, o.value)));
        }
        if o.asset_id.is_empty() {
            return Err(AlertError::Observation("empty asset id".into()));
        }
        if o.bounds.classify(o.value) != Reading::Breach {
            // The common case, a good value for an asset without an open alert, takes no write lock.
            let filter = AlertFilter {
                rule: Some(o.rule.to_string()),
                asset_id: Some(o.asset_id.to_string()),
                open_only: true,
                limit: Some(1),
                ..AlertFilter::default()
            };
            if self.store.alerts(&filter).await?.is_empty() {
                return Ok(());
            }
        }
        for _ in 0..MAX_TRIES {
            let mut tx = self.store.begin_alerts().await?;
            let mut alert = match tx.open_alert(o.rule, o.asset_id).await? {
                Some(alert) => alert,
                None if o.bounds.classify(o.value) != Reading::Breach => {
                    tx.rollback().await?;
                    return Ok(());
                }
                None => {
                    let new = NewAlert {
                        rule: o.rule.to_string(),
                        asset_id: o.asset_id.to_string(),
                        site: o.site.to_string(),
                        pipeline: o.pipeline.to_string(),
                        route: self.config.route.name.clone(),
                        opened_at: o.at,
                        value: Some(o.value),
                        threshold: o.bounds.threshold_for(o.value),
                        detail: o.detail.clone(),
                    };
                    match tx.insert_alert(&new).await? {
                        Some(alert) => alert,
                        // Another process opened it since we looked: start over and update theirs.
                        None => {
                            tx.rollback().await?;
                            continue;
                        }
                    }
                }
            };
            let change = rules::apply(&mut alert, &o.bounds, o.value, o.at);
            if change == Change::Stale {
                tx.rollback().await?;
                return Ok(());
            }
            merge(&mut alert.detail, &o.detail);
            alert.site = o.site.to_string();
            alert.pipeline = o.pipeline.to_string();
            tx.update_alert(&alert).await?;
            tx.commit().await?;
            events::transition(&alert, change);
            if matches!(change, Change::Fired | Change::Resolved) {
                self.changed.notify_one();
            }
            return Ok(());
        }
        Err(AlertError::Contention { rule: o.rule.to_string(), asset_id: o.asset_id.to_string() })
    }

    /// Records that `source` delivered data at `at`; an open no-data alert for it resolves.
    pub async fn heartbeat(&self, source: &str, at: DateTime<Utc>) -> Result<(), AlertError> {
        self.heartbeats(&[source], at).await
    }

    /// [`AlertEngine::heartbeat`] for several sources at once, in one transaction (a batch from many inverters).
    pub async fn heartbeats(&self, sources: &[&str], at: DateTime<Utc>) -> Result<(), AlertError> {
        let mut tx = self.store.begin_alerts().await?;
        let mut resolved = Vec::new();
        for source in sources {
            tx.record_heartbeat(source, at).await?;
            if let Some(mut alert) = tx.open_alert(NO_DATA_RULE, source).await? {
                let last_seen: Option<DateTime<Utc>> =
                    alert.detail.get("last_seen").and_then(|v| serde_json::from_value(v.clone()).ok());
                // Only data newer than what the alert saw ends the silence (a replayed old file does not).
                if last_seen.is_none_or(|seen| at > seen) {
                    rules::resolve(&mut alert, at);
                    tx.update_alert(&alert).await?;
                    resolved.push(alert);
                }
            }
        }
        tx.commit().await?;
        for alert in &resolved {
            events::transition(alert, Change::Resolved);
        }
        if !resolved.is_empty() {
            self.changed.notify_one();
        }
        Ok(())
    }

    /// The periodic work, at time `now`: no-data checks, then one dispatch of grouped notices, repeats and
    /// escalations. Returns how many notifications it enqueued. Call it every second or so.
    pub async fn tick(&self, now: DateTime<Utc>) -> Result<usize, AlertError> {
        let started = *self.first_tick.lock().unwrap_or_else(|e| e.into_inner()).get_or_insert(now);
        for rule in &self.config.no_data {
            match rule.source.strip_suffix('*') {
                // A family of sources (`plant/inverter/*`): each one heard from so far is watched.
                Some(prefix) => {
                    let seen = self.store.heartbeats().await?;
                    for hb in seen.into_iter().filter(|h| h.source.starts_with(prefix) && h.source.len() > prefix.len())
                    {
                        let one = NoDataRule { source: hb.source, ..rule.clone() };
                        self.check_source(&one, now, started).await?;
                    }
                }
                None => self.check_source(rule, now, started).await?,
            }
        }
        let enqueued = dispatch::dispatch(&self.store, &self.config, now).await?;
        if enqueued > 0 {
            if let Some(waker) = &self.waker {
                waker.wake();
            }
        }
        Ok(enqueued)
    }

    /// Fires the no-data alert of `rule.source` when it has been silent too long (since `started` if never heard
    /// from), updates how long it has been silent, or resolves it when data came in.
    async fn check_source(
        &self,
        rule: &NoDataRule,
        now: DateTime<Utc>,
        started: DateTime<Utc>,
    ) -> Result<(), AlertError> {
        let expected = rule.expected_interval_s as f64;
        for _ in 0..MAX_TRIES {
            let mut tx = self.store.begin_alerts().await?;
            let last_seen = tx.heartbeat(&rule.source).await?.map(|h| h.last_seen);
            let silent = (now - last_seen.unwrap_or(started)).num_milliseconds() as f64 / 1000.0;
            let open = tx.open_alert(NO_DATA_RULE, &rule.source).await?;
            let (mut alert, change) = match open {
                None if silent <= expected => {
                    tx.rollback().await?;
                    return Ok(());
                }
                None => {
                    let new = NewAlert {
                        rule: NO_DATA_RULE.into(),
                        asset_id: rule.source.clone(),
                        site: rule.site.clone(),
                        pipeline: rule.pipeline.clone(),
                        route: self.config.route.name.clone(),
                        opened_at: now,
                        value: Some(silent),
                        threshold: Some(expected),
                        detail: json!({ "last_seen": last_seen, "expected_interval_s": rule.expected_interval_s }),
                    };
                    let Some(mut alert) = tx.insert_alert(&new).await? else {
                        tx.rollback().await?;
                        continue;
                    };
                    alert.state = prognos_store::AlertState::Firing;
                    alert.consecutive = 1;
                    alert.fired_at = Some(now);
                    alert.set_notice(Some(prognos_store::Notice::Firing), now);
                    (alert, Change::Fired)
                }
                Some(mut alert) if silent <= expected => {
                    rules::resolve(&mut alert, now);
                    (alert, Change::Resolved)
                }
                Some(alert) => (alert, Change::Updated),
            };
            if change != Change::Resolved {
                alert.value = Some(silent);
                alert.updated_at = alert.updated_at.max(now);
            }
            tx.update_alert(&alert).await?;
            tx.commit().await?;
            events::transition(&alert, change);
            return Ok(());
        }
        Err(AlertError::Contention { rule: NO_DATA_RULE.into(), asset_id: rule.source.clone() })
    }

    /// Records that `by` acknowledged alert `alert_id` at `at`: its repeats and escalation stop (its resolution is
    /// still told). Acknowledging twice keeps the first; the alert is returned either way.
    pub async fn acknowledge(&self, alert_id: i64, by: &str, at: DateTime<Utc>) -> Result<AlertRecord, AlertError> {
        match self.store.acknowledge_alert(alert_id, by, at).await? {
            AckOutcome::Acknowledged(alert) => {
                events::acknowledged(&alert, by);
                Ok(alert)
            }
            AckOutcome::AlreadyAcknowledged(alert) => Ok(alert),
            AckOutcome::Resolved(_) => Err(AlertError::NotOpen(alert_id)),
            AckOutcome::NotFound => Err(AlertError::NotFound(alert_id)),
        }
    }

    /// Silences notifications about `asset_id` (anywhere), every asset of `site`, or that asset at that site, from
    /// `from` until `to`. Returns the silence's id.
    pub async fn silence(
        &self,
        asset_id: Option<&str>,
        site: Option<&str>,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        reason: &str,
        by: &str,
    ) -> Result<i64, AlertError> {
        let silence = NewSilence {
            asset_id: asset_id.map(str::to_string),
            site: site.map(str::to_string),
            starts_at: from,
            ends_at: to,
            reason: reason.to_string(),
            created_by: by.to_string(),
        };
        let id = self.store.create_silence(&silence).await?;
        tracing::info!(silence_id = id, asset = ?asset_id, site = ?site, %from, %to, reason, by, "silence created");
        Ok(id)
    }
}

/// Copies `extra`'s keys into the object `detail`.
fn merge(detail: &mut Value, extra: &Value) {
    if let (Some(detail), Some(extra)) = (detail.as_object_mut(), extra.as_object()) {
        for (key, value) in extra {
            detail.insert(key.clone(), value.clone());
        }
    }
}
