//! The engine's configuration: rules, the route with its escalation levels and contacts, and the dashboard link.
//! Every struct deserializes from TOML/JSON with the defaults below for missing fields; unknown fields are refused
//! so that a typo cannot silently disable an alert.

use serde::{Deserialize, Serialize};

use super::AlertError;

/// The rule key of health-score alerts in the store.
pub const HEALTH_RULE: &str = "health";
/// The rule key of no-data alerts in the store.
pub const NO_DATA_RULE: &str = "no_data";
/// The rule key of input-drift alerts in the store (one per model; the alert's asset is the model's name).
pub const DRIFT_RULE: &str = "drift";
/// The prefix of range rules' keys in the store (`range:<metric>`).
pub const RANGE_RULE_PREFIX: &str = "range:";

/// Fires when a health score drops below `threshold`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HealthRule {
    /// Scores below this breach the rule. Default 70.
    pub threshold: f64,
    /// A firing alert resolves only at a score of at least `threshold + hysteresis`, so that a score wavering
    /// around the threshold does not flap. Default 5.
    pub hysteresis: f64,
    /// Breaching scores in a row needed before the alert fires (the alert is pending until then). Default 1.
    pub for_count: u32,
    /// Seconds the breach must also have lasted (first to latest breaching score) before firing. Default 0.
    pub for_s: u64,
    /// A firing, unacknowledged alert is notified again this often, in seconds; 0 never repeats. Default 3600.
    pub repeat_interval_s: u64,
}

impl Default for HealthRule {
    fn default() -> Self {
        HealthRule { threshold: 70.0, hysteresis: 5.0, for_count: 1, for_s: 0, repeat_interval_s: 3600 }
    }
}

/// Fires when a model's inputs drift away from its training data: the population stability index of any feature,
/// over the recent rows the active version scored, above `threshold`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DriftRule {
    /// Whether drift alerts are raised at all (the route's contacts may not be the people who retrain models; the
    /// drift values still reach `/metrics`, the API and the dashboard). Default true.
    pub enabled: bool,
    /// A highest per-feature PSI above this breaches the rule. Default 0.25.
    pub threshold: f64,
    /// A firing alert resolves only once the highest PSI is at most `threshold - hysteresis`. Default 0.05.
    pub hysteresis: f64,
    /// Breaching drift checks in a row needed before the alert fires. Default 1.
    pub for_count: u32,
    /// Seconds the breach must also have lasted before firing. Default 0.
    pub for_s: u64,
    /// A firing, unacknowledged alert is notified again this often, in seconds; 0 never repeats. Default 86,400.
    pub repeat_interval_s: u64,
}

impl Default for DriftRule {
    fn default() -> Self {
        DriftRule {
            enabled: true,
            threshold: 0.25,
            hysteresis: 0.05,
            for_count: 1,
            for_s: 0,
            repeat_interval_s: 86_400,
        }
    }
}

/// Fires when a metric (e.g. an inverter's DC voltage) leaves `[min, max]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RangeRule {
    /// The metric's name, as passed to `observe_metric`.
    pub metric: String,
    /// Values below this breach the rule (no lower bound when absent).
    #[serde(default)]
    pub min: Option<f64>,
    /// Values above this breach the rule (no upper bound when absent).
    #[serde(default)]
    pub max: Option<f64>,
    /// A firing alert resolves only once the value is back inside by this margin. Default 0.
    #[serde(default)]
    pub hysteresis: f64,
    /// Breaching values in a row needed before firing. Default 1.
    #[serde(default = "one")]
    pub for_count: u32,
    /// Seconds the breach must also have lasted before firing. Default 0.
    #[serde(default)]
    pub for_s: u64,
    /// Repeat interval in seconds for a firing, unacknowledged alert; 0 never repeats. Default 3600.
    #[serde(default = "hour")]
    pub repeat_interval_s: u64,
}

/// Fires when a source (a camera folder, an inverter feed) has delivered nothing for longer than expected, and
/// resolves when it delivers again.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoDataRule {
    /// The source, as passed to `heartbeat` (e.g. `parkA/Cam_01`). Ending in `*`, a family: every source
    /// heard from whose name starts with the rest (e.g. `plant/inverter/*`, one per inverter) is watched.
    pub source: String,
    /// Longest normal silence, in seconds; longer fires.
    pub expected_interval_s: u64,
    /// The site the source belongs to (for messages and silences). Default empty.
    #[serde(default)]
    pub site: String,
    /// The pipeline the source feeds. Default empty.
    #[serde(default)]
    pub pipeline: String,
    /// Repeat interval in seconds for a firing, unacknowledged alert; 0 never repeats. Default 3600.
    #[serde(default = "hour")]
    pub repeat_interval_s: u64,
}

/// A person (or a shared inbox) to notify, on every channel given.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Contact {
    /// Name, unique within the route (shown in logs; the webhook recipient).
    pub name: String,
    /// Phone number in E.164 form (`+4915112345678`) for SMS.
    #[serde(default)]
    pub sms: Option<String>,
    /// Mailbox for email.
    #[serde(default)]
    pub email: Option<String>,
    /// Whether this contact also gets the webhook. Default false.
    #[serde(default)]
    pub webhook: bool,
}

/// Who is told, in which order, and how messages are grouped.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Route {
    /// The route's name (stored with each alert and notification). Default `default`.
    pub name: String,
    /// Alerts that fire or resolve are collected; once the oldest has waited this long (milliseconds), one
    /// message per contact and channel lists them all. Default 2000.
    pub group_wait_ms: u64,
    /// Escalation levels: `levels[0]` is told first; each further level is told when a firing alert stays
    /// unacknowledged for `escalate_after_s` after the previous level was told. At least one level with at least
    /// one contact.
    pub levels: Vec<Vec<Contact>>,
    /// Seconds without acknowledgement before the next level is told; 0 never escalates. Default 900.
    pub escalate_after_s: u64,
}

impl Default for Route {
    fn default() -> Self {
        Route { name: "default".into(), group_wait_ms: 2000, levels: Vec::new(), escalate_after_s: 900 }
    }
}

/// Everything an [`super::AlertEngine`] needs: its rules, its route and the dashboard link.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EngineConfig {
    /// The health-score rule.
    pub health: HealthRule,
    /// The input-drift rule.
    pub drift: DriftRule,
    /// Metric range rules (none by default).
    pub ranges: Vec<RangeRule>,
    /// No-data rules, one per watched source (none by default).
    pub no_data: Vec<NoDataRule>,
    /// Who is told.
    pub route: Route,
    /// The dashboard's base URL; messages link to `<dashboard_url>/assets/<id>` and `<dashboard_url>/alerts/<id>`.
    /// Default `http://localhost:8080`.
    pub dashboard_url: String,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            health: HealthRule::default(),
            drift: DriftRule::default(),
            ranges: Vec::new(),
            no_data: Vec::new(),
            route: Route::default(),
            dashboard_url: "http://localhost:8080".into(),
        }
    }
}

fn one() -> u32 {
    1
}

fn hour() -> u64 {
    3600
}

fn invalid(reason: impl Into<String>) -> AlertError {
    AlertError::Config(reason.into())
}

fn check_margin(what: &str, hysteresis: f64, for_count: u32) -> Result<(), AlertError> {
    if !hysteresis.is_finite() || hysteresis < 0.0 {
        return Err(invalid(format!("{what}: hysteresis {hysteresis} must be a finite number >= 0")));
    }
    if for_count == 0 {
        return Err(invalid(format!("{what}: for_count must be at least 1")));
    }
    Ok(())
}

fn looks_like_e164(number: &str) -> bool {
    let digits = number.strip_prefix('+').unwrap_or("");
    (8..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit())
}

impl EngineConfig {
    /// Checks everything that would otherwise make an alert silent or nonsensical: a route without contacts, a
    /// contact without a channel, a malformed phone number, a threshold that is not a number.
    pub fn validate(&self) -> Result<(), AlertError> {
        let h = &self.health;
        if !h.threshold.is_finite() {
            return Err(invalid(format!("health.threshold {} is not a number", h.threshold)));
        }
        check_margin("health", h.hysteresis, h.for_count)?;
        let d = &self.drift;
        if !(d.threshold.is_finite() && d.threshold > 0.0) {
            return Err(invalid(format!("drift.threshold {} must be a number above 0", d.threshold)));
        }
        check_margin("drift", d.hysteresis, d.for_count)?;
        if d.hysteresis >= d.threshold {
            return Err(invalid(format!(
                "drift.hysteresis {} must be below drift.threshold {} (the alert could never resolve)",
                d.hysteresis, d.threshold
            )));
        }
        let mut metrics = std::collections::HashSet::new();
        for r in &self.ranges {
            let what = format!("range rule {:?}", r.metric);
            if r.metric.is_empty() || !metrics.insert(&r.metric) {
                return Err(invalid(format!("{what}: the metric name is empty or repeated")));
            }
            match (r.min, r.max) {
                (None, None) => return Err(invalid(format!("{what}: needs min, max or both"))),
                (Some(a), Some(b)) if !(a.is_finite() && b.is_finite() && a < b) => {
                    return Err(invalid(format!("{what}: min {a} must be below max {b}")));
                }
                (Some(v), None) | (None, Some(v)) if !v.is_finite() => {
                    return Err(invalid(format!("{what}: bound {v} is not a number")));
                }
                _ => {}
            }
            check_margin(&what, r.hysteresis, r.for_count)?;
        }
        let mut sources = std::collections::HashSet::new();
        for r in &self.no_data {
            if r.source.is_empty() || !sources.insert(&r.source) {
                return Err(invalid(format!("no-data rule {:?}: the source is empty or repeated", r.source)));
            }
            if r.expected_interval_s == 0 {
                return Err(invalid(format!("no-data rule {:?}: expected_interval_s must be > 0", r.source)));
            }
        }
        self.validate_route()?;
        if !(self.dashboard_url.starts_with("http://") || self.dashboard_url.starts_with("https://")) {
            return Err(invalid(format!("dashboard_url {:?} must start with http:// or https://", self.dashboard_url)));
        }
        Ok(())
    }

    fn validate_route(&self) -> Result<(), AlertError> {
        let route = &self.route;
        if route.name.is_empty() {
            return Err(invalid("route.name is empty"));
        }
        if route.levels.is_empty() || route.levels.iter().any(Vec::is_empty) {
            return Err(invalid(format!(
                "route {:?}: needs at least one escalation level, and every level at least one contact \
                 (otherwise alerts would reach nobody)",
                route.name
            )));
        }
        let mut seen: std::collections::HashMap<&str, &Contact> = std::collections::HashMap::new();
        for contact in route.levels.iter().flatten() {
            let what = format!("route {:?}, contact {:?}", route.name, contact.name);
            if contact.name.is_empty() {
                return Err(invalid(format!("route {:?}: a contact has no name", route.name)));
            }
            if contact.sms.is_none() && contact.email.is_none() && !contact.webhook {
                return Err(invalid(format!("{what}: no channel (sms, email or webhook)")));
            }
            if let Some(number) = &contact.sms {
                if !looks_like_e164(number) {
                    return Err(invalid(format!("{what}: sms {number:?} is not an E.164 number like +4915112345678")));
                }
            }
            if let Some(mailbox) = &contact.email {
                if !mailbox.contains('@') {
                    return Err(invalid(format!("{what}: email {mailbox:?} is not a mailbox")));
                }
            }
            // The same person may stand on several levels, but a name means one set of channels.
            if let Some(previous) = seen.insert(&contact.name, contact) {
                if previous != contact {
                    return Err(invalid(format!("{what}: appears twice with different channels")));
                }
            }
        }
        Ok(())
    }

    /// The repeat interval of the rule stored as `rule` (the health rule's when the rule is no longer configured).
    pub(crate) fn repeat_interval_s(&self, rule: &str, asset_id: &str) -> u64 {
        if let Some(metric) = rule.strip_prefix(RANGE_RULE_PREFIX) {
            if let Some(r) = self.ranges.iter().find(|r| r.metric == metric) {
                return r.repeat_interval_s;
            }
        } else if rule == DRIFT_RULE {
            return self.drift.repeat_interval_s;
        } else if rule == NO_DATA_RULE {
            if let Some(r) = self.no_data.iter().find(|r| r.source == asset_id) {
                return r.repeat_interval_s;
            }
        }
        self.health.repeat_interval_s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn contact(name: &str) -> Contact {
        Contact { name: name.into(), sms: Some("+4915100000001".into()), email: None, webhook: false }
    }

    fn valid() -> EngineConfig {
        EngineConfig { route: Route { levels: vec![vec![contact("a")]], ..Route::default() }, ..Default::default() }
    }

    #[test]
    fn defaults_match_the_documentation() {
        let c: EngineConfig =
            serde_json::from_str(r#"{"route": {"levels": [[{"name": "a", "sms": "+4915100000001"}]]}}"#)
                .expect("minimal config");
        assert_eq!(
            c.health,
            HealthRule { threshold: 70.0, hysteresis: 5.0, for_count: 1, for_s: 0, repeat_interval_s: 3600 }
        );
        assert_eq!((c.route.name.as_str(), c.route.group_wait_ms, c.route.escalate_after_s), ("default", 2000, 900));
        assert_eq!(c.dashboard_url, "http://localhost:8080");
        assert_eq!(
            c.drift,
            DriftRule {
                enabled: true,
                threshold: 0.25,
                hysteresis: 0.05,
                for_count: 1,
                for_s: 0,
                repeat_interval_s: 86_400
            }
        );
        c.validate().unwrap();
    }

    #[test]
    fn typos_and_silent_routes_are_refused() {
        assert!(serde_json::from_str::<EngineConfig>(r#"{"health": {"threshhold": 60}}"#).is_err());
        assert!(EngineConfig::default().validate().is_err(), "no contacts");
        let mut c = valid();
        c.route.levels[0][0].sms = Some("01511234".into());
        assert!(c.validate().is_err());
        let mut c = valid();
        c.route.levels[0][0].sms = None;
        assert!(c.validate().is_err(), "no channel");
        let mut c = valid();
        c.drift.hysteresis = c.drift.threshold;
        assert!(c.validate().is_err(), "a drift alert that could never resolve");
        let mut c = valid();
        c.drift.threshold = f64::NAN;
        assert!(c.validate().is_err());
        let mut c = valid();
        c.health.for_count = 0;
        assert!(c.validate().is_err());
        let mut c = valid();
        c.ranges.push(RangeRule {
            metric: "v".into(),
            min: Some(10.0),
            max: Some(5.0),
            hysteresis: 0.0,
            for_count: 1,
            for_s: 0,
            repeat_interval_s: 0,
        });
        assert!(c.validate().is_err());
        let mut c = valid();
        c.no_data.push(NoDataRule {
            source: "cam".into(),
            expected_interval_s: 0,
            site: String::new(),
            pipeline: String::new(),
            repeat_interval_s: 0,
        });
        assert!(c.validate().is_err());
        let mut c = valid();
        c.route.levels.push(vec![Contact { email: Some("x@example.com".into()), ..contact("a") }]);
        assert!(c.validate().is_err(), "one name, two sets of channels");
        valid().validate().unwrap();
    }
}
