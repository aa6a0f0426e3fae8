//! The words: one message per contact and channel from the notices due for that contact.
//!
//! SMS: what, where, how bad and what to open, within two segments (a long list ends in "+N more"). Email: a
//! subject, a text part and an HTML part with each asset's score, threshold, recent trend and links. Webhook: the
//! same facts as JSON.

mod email;
mod payload;

use std::fmt::Write as _;

use chrono::{DateTime, Utc};
use prognos_store::{AlertRecord, TrendPoint};
use serde_json::Value;

use super::config::{DRIFT_RULE, NO_DATA_RULE, RANGE_RULE_PREFIX};
use crate::notify::{sms_segments, Channel, Message};

/// The most SMS segments an alert text may take.
pub const MAX_SMS_SEGMENTS: usize = 2;

/// Why an alert is in a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Kind {
    /// It fired (or, silenced when it fired, is told for the first time).
    Fired,
    /// Nobody acknowledged it: told to the next escalation level.
    Escalated,
    /// Still firing and unacknowledged after the repeat interval.
    Repeat,
    /// It resolved.
    Resolved,
}

impl Kind {
    pub(super) fn label(self) -> &'static str {
        match self {
            Kind::Fired => "ALERT",
            Kind::Escalated => "ESCALATED",
            Kind::Repeat => "STILL FIRING",
            Kind::Resolved => "RESOLVED",
        }
    }

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Kind::Fired => "firing",
            Kind::Escalated => "escalated",
            Kind::Repeat => "repeat",
            Kind::Resolved => "resolved",
        }
    }
}

/// One alert to tell about, with what the message needs to describe it.
#[derive(Debug, Clone)]
pub(crate) struct Item {
    /// The alert as it will be stored after this dispatch.
    pub alert: AlertRecord,
    /// Why it is told.
    pub kind: Kind,
    /// What the asset is (`wheel`, `inverter`, `asset`, `source`).
    pub noun: &'static str,
    /// Recent scores, oldest first (health alerts only).
    pub trend: Vec<TrendPoint>,
}

/// Links and wording shared by every message of one dispatch.
pub(crate) struct Context<'a> {
    pub dashboard_url: &'a str,
    pub route: &'a str,
    pub escalate_after_s: u64,
    pub now: DateTime<Utc>,
}

impl Context<'_> {
    fn base(&self) -> &str {
        self.dashboard_url.trim_end_matches('/')
    }

    /// The page to open for an alert: its asset's page, the model's page for drift, or the alert's page for a
    /// data source.
    pub fn link(&self, alert: &AlertRecord) -> String {
        if alert.rule == NO_DATA_RULE {
            format!("{}/alerts/{}", self.base(), alert.id)
        } else if alert.rule == DRIFT_RULE {
            format!("{}/models/{}", self.base(), alert.asset_id)
        } else {
            format!("{}/assets/{}", self.base(), alert.asset_id)
        }
    }

    pub(super) fn ack_link(&self, alert: &AlertRecord) -> String {
        format!("{}/alerts/{}", self.base(), alert.id)
    }
}

/// A number as people read it: no decimals when whole, else one, rounded down (so that 69.96 reads 69.9, not a
/// confusing "70.0 (below 70)").
pub(crate) fn num(v: f64) -> String {
    if (v - v.round()).abs() < 1e-9 {
        format!("{v:.0}")
    } else {
        format!("{:.1}", (v * 10.0 + 1e-6).floor() / 10.0)
    }
}

/// A duration in seconds as `40s`, `25m`, `2h05m` or `3d4h`.
pub(crate) fn duration(secs: f64) -> String {
    let s = secs.max(0.0).round() as u64;
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m", s / 60),
        3600..86_400 => format!("{}h{:02}m", s / 3600, s % 3600 / 60),
        _ => format!("{}d{}h", s / 86_400, s % 86_400 / 3600),
    }
}

fn detail_f64(alert: &AlertRecord, key: &str) -> Option<f64> {
    alert.detail.get(key).and_then(Value::as_f64)
}

/// The features that pulled a health alert's latest score down most, by name (most first).
pub(super) fn drivers(alert: &AlertRecord) -> Vec<(String, f64)> {
    alert
        .detail
        .get("drivers")
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .filter_map(|d| {
                    let feature = d.get("feature").and_then(Value::as_str)?;
                    Some((feature.to_string(), d.get("contribution").and_then(Value::as_f64).unwrap_or(f64::NAN)))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// A population stability index as people read it: two decimals.
pub(crate) fn psi_text(v: f64) -> String {
    format!("{v:.2}")
}

/// The feature a drift alert names.
pub(super) fn drift_feature(alert: &AlertRecord) -> &str {
    alert.detail.get("feature").and_then(Value::as_str).unwrap_or("?")
}

pub(super) fn range_text(alert: &AlertRecord) -> String {
    match (detail_f64(alert, "min"), detail_f64(alert, "max")) {
        (Some(a), Some(b)) => format!("{}..{}", num(a), num(b)),
        (Some(a), None) => format!(">= {}", num(a)),
        (None, Some(b)) => format!("<= {}", num(b)),
        (None, None) => alert.threshold.map(num).unwrap_or_default(),
    }
}

/// Items of one section that share a rule, described together.
pub(super) struct Group<'a> {
    pub(super) kind: Kind,
    pub(super) items: Vec<&'a Item>,
}

impl Group<'_> {
    fn rule(&self) -> &str {
        &self.items[0].alert.rule
    }

    /// `W07 55` for lists.
    fn entry(&self, item: &Item) -> String {
        let a = &item.alert;
        match (self.rule(), a.value) {
            (NO_DATA_RULE, Some(v)) if self.kind != Kind::Resolved => format!("{} {}", a.asset_id, duration(v)),
            (DRIFT_RULE, Some(v)) => format!("{} {} {}", a.asset_id, drift_feature(a), psi_text(v)),
            (_, Some(v)) if a.rule != NO_DATA_RULE => format!("{} {}", a.asset_id, num(v)),
            _ => a.asset_id.clone(),
        }
    }

    /// The group in one line, listing at most `limit` entries (then `+N more`).
    fn describe(&self, limit: usize) -> String {
        let n = self.items.len();
        let first = &self.items[0].alert;
        let noun = self.items[0].noun;
        let value = first.value.map(num).unwrap_or_else(|| "?".into());
        let threshold = first.threshold.map(num).unwrap_or_else(|| "?".into());
        let resolved = self.kind == Kind::Resolved;
        let rule = self.rule();
        if n == 1 {
            return if rule == NO_DATA_RULE {
                if resolved {
                    format!("data again from {}", first.asset_id)
                } else {
                    let expected = first.threshold.map(|t| format!(" (expected every {})", duration(t)));
                    let silent = first.value.map(duration).unwrap_or_else(|| "?".into());
                    format!("no data from {} for {silent}{}", first.asset_id, expected.unwrap_or_default())
                }
            } else if rule == DRIFT_RULE {
                let psi = first.value.map(psi_text).unwrap_or_else(|| "?".into());
                if resolved {
                    format!("model {} inputs back in line (PSI {psi})", first.asset_id)
                } else {
                    let threshold = first.threshold.map(psi_text).unwrap_or_else(|| "?".into());
                    let feature = drift_feature(first);
                    format!("model {} inputs drift: PSI {psi} on {feature} (above {threshold})", first.asset_id)
                }
            } else if let Some(metric) = rule.strip_prefix(RANGE_RULE_PREFIX) {
                if resolved {
                    format!("{noun} {} {metric} back in range at {value}", first.asset_id)
                } else {
                    format!("{noun} {} {metric} {value} (outside {})", first.asset_id, range_text(first))
                }
            } else if resolved {
                format!("{noun} {} health back to {value}", first.asset_id)
            } else {
                let names: Vec<String> = drivers(first).into_iter().map(|(f, _)| f).collect();
                if names.is_empty() {
                    format!("{noun} {} health {value} (below {threshold})", first.asset_id)
                } else {
                    format!("{noun} {} health {value} (below {threshold}), low on {}", first.asset_id, names.join(", "))
                }
            };
        }
        let headline = if rule == NO_DATA_RULE {
            if resolved {
                format!("data again from {n} sources")
            } else {
                format!("no data from {n} sources")
            }
        } else if rule == DRIFT_RULE {
            if resolved {
                format!("{n} models with inputs back in line")
            } else {
                format!("{n} models with drifting inputs")
            }
        } else if let Some(metric) = rule.strip_prefix(RANGE_RULE_PREFIX) {
            if resolved {
                format!("{n} {noun}s with {metric} back in range")
            } else {
                format!("{n} {noun}s with {metric} outside {}", range_text(first))
            }
        } else if resolved {
            format!("{n} {noun}s back to health")
        } else {
            format!("{n} {noun}s below {threshold}")
        };
        let shown = limit.clamp(1, n);
        let mut list: Vec<String> = self.items[..shown].iter().map(|i| self.entry(i)).collect();
        if shown < n {
            list.push(format!("+{} more", n - shown));
        }
        format!("{headline}: {}", list.join(", "))
    }

    /// The group's headline without the list (for an email subject).
    pub(super) fn headline(&self) -> String {
        let full = self.describe(usize::MAX);
        match (self.items.len(), full.split_once(": ")) {
            (1, _) | (_, None) => full,
            (_, Some((headline, _))) => headline.to_string(),
        }
    }
}

/// Sections in order of urgency, each split into groups by rule, worst first within a group.
pub(super) fn groups<'a>(items: &[&'a Item]) -> Vec<Group<'a>> {
    let mut sorted: Vec<&Item> = items.to_vec();
    sorted.sort_by(|a, b| {
        a.kind
            .cmp(&b.kind)
            .then_with(|| a.alert.rule.cmp(&b.alert.rule))
            .then_with(|| severity(&a.alert).total_cmp(&severity(&b.alert)))
            .then_with(|| a.alert.asset_id.cmp(&b.alert.asset_id))
    });
    let mut groups: Vec<Group> = Vec::new();
    for item in sorted {
        match groups.last_mut() {
            Some(g) if g.kind == item.kind && g.rule() == item.alert.rule => g.items.push(item),
            _ => groups.push(Group { kind: item.kind, items: vec![item] }),
        }
    }
    groups
}

/// Lower is worse: a health score as is, a silence or range excursion by its size.
fn severity(alert: &AlertRecord) -> f64 {
    let v = alert.value.unwrap_or(f64::NAN);
    if alert.rule == NO_DATA_RULE || alert.rule == DRIFT_RULE {
        -v
    } else if alert.rule.starts_with(RANGE_RULE_PREFIX) {
        -(v - alert.threshold.unwrap_or(v)).abs()
    } else {
        v
    }
}

pub(super) fn sites(items: &[&Item]) -> String {
    let mut sites: Vec<&str> = items.iter().map(|i| i.alert.site.as_str()).filter(|s| !s.is_empty()).collect();
    sites.sort_unstable();
    sites.dedup();
    sites.join(", ")
}

pub(super) fn escalation_note(ctx: &Context, kind: Kind) -> String {
    if kind == Kind::Escalated {
        format!(" (no ack for {})", duration(ctx.escalate_after_s as f64))
    } else {
        String::new()
    }
}

/// The SMS body: every group with lists cut to fit [`MAX_SMS_SEGMENTS`].
pub(crate) fn sms_text(ctx: &Context, items: &[&Item]) -> String {
    let groups = groups(items);
    let sites = sites(items);
    let prefix = if sites.is_empty() { "Prognos: ".to_string() } else { format!("Prognos {sites}: ") };
    let link = format!(" Open {}", ctx.link(&groups[0].items[0].alert));
    let render = |limit: usize| {
        let mut text = prefix.clone();
        let mut last_kind = None;
        for g in &groups {
            if last_kind == Some(g.kind) {
                text.push_str("; ");
            } else {
                if last_kind.is_some() {
                    text.push_str(". ");
                }
                let _ = write!(text, "{}{} ", g.kind.label(), escalation_note(ctx, g.kind));
                last_kind = Some(g.kind);
            }
            text.push_str(&g.describe(limit));
        }
        text.push('.');
        text.push_str(&link);
        text
    };
    let longest = groups.iter().map(|g| g.items.len()).max().unwrap_or(1);
    let mut limit = longest;
    let mut text = render(limit);
    while sms_segments(&text) > MAX_SMS_SEGMENTS && limit > 1 {
        limit -= 1;
        text = render(limit);
    }
    // Still too long (very long names or links): cut the text itself, keeping the link.
    while sms_segments(&text) > MAX_SMS_SEGMENTS && text.len() > link.len() + 3 {
        let body_end = text.len() - link.len();
        let mut cut = body_end.saturating_sub(4);
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text = format!("{}...{link}", &text[..cut]);
    }
    text
}

/// The message for one contact on one channel. `items` must not be empty.
pub(crate) fn build(
    ctx: &Context,
    contact: &str,
    channel: Channel,
    to: &str,
    items: &[&Item],
    idempotency_key: &str,
) -> Message {
    let summary = sms_text(ctx, items);
    let payload = payload::payload(ctx, contact, items, &summary);
    let (text, html) = match channel {
        Channel::Email => {
            let (text, html) = email::bodies(ctx, items);
            (text, Some(html))
        }
        Channel::Sms | Channel::Webhook => (summary, None),
    };
    Message {
        channel,
        to: to.to_string(),
        subject: email::subject(items),
        text,
        html,
        payload,
        idempotency_key: idempotency_key.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use prognos_store::AlertState;
    use serde_json::json;

    fn alert(id: i64, asset: &str, value: f64) -> AlertRecord {
        let t = Utc.with_ymd_and_hms(2024, 5, 1, 12, 0, 0).unwrap();
        AlertRecord {
            id,
            rule: "health".into(),
            asset_id: asset.into(),
            site: "parkA".into(),
            pipeline: "wheels".into(),
            route: "r".into(),
            state: AlertState::Firing,
            consecutive: 1,
            value: Some(value),
            threshold: Some(70.0),
            opened_at: t,
            updated_at: t,
            fired_at: Some(t),
            resolved_at: None,
            acked_at: None,
            acked_by: None,
            last_notified_at: None,
            escalation_level: 0,
            escalated_at: None,
            pending_notice: None,
            notice_since: None,
            detail: json!({"model": "wheel-health"}),
        }
    }

    fn item(a: AlertRecord, kind: Kind) -> Item {
        Item { alert: a, kind, noun: "wheel", trend: Vec::new() }
    }

    fn ctx() -> Context<'static> {
        Context { dashboard_url: "https://dash.example/", route: "oncall", escalate_after_s: 900, now: Utc::now() }
    }

    #[test]
    fn one_wheel_says_what_where_how_bad_and_what_to_open() {
        let i = item(alert(3, "W07", 55.0), Kind::Fired);
        assert_eq!(
            sms_text(&ctx(), &[&i]),
            "Prognos parkA: ALERT wheel W07 health 55 (below 70). Open https://dash.example/assets/W07"
        );
    }

    #[test]
    fn many_wheels_are_listed_worst_first_and_cut_to_two_segments() {
        let items: Vec<Item> = (0..40)
            .map(|i| item(alert(i, &format!("WHEEL-{i:03}-LONGNAME"), 30.0 + i as f64 * 0.5), Kind::Fired))
            .collect();
        let refs: Vec<&Item> = items.iter().collect();
        let text = sms_text(&ctx(), &refs);
        assert!(sms_segments(&text) <= MAX_SMS_SEGMENTS, "{text}");
        assert!(text.starts_with("Prognos parkA: ALERT 40 wheels below 70: WHEEL-000-LONGNAME 30, "), "{text}");
        assert!(text.contains(" more. Open https://dash.example/assets/WHEEL-000-LONGNAME"), "{text}");
    }

    #[test]
    fn sections_and_email_parts() {
        let fired = item(alert(1, "W03", 42.0), Kind::Fired);
        let mut r = alert(2, "W02", 81.0);
        r.state = AlertState::Resolved;
        let resolved = item(r, Kind::Resolved);
        let text = sms_text(&ctx(), &[&resolved, &fired]);
        assert_eq!(
            text,
            "Prognos parkA: ALERT wheel W03 health 42 (below 70). RESOLVED wheel W02 health back to 81. \
             Open https://dash.example/assets/W03"
        );
        let m = build(&ctx(), "alice", Channel::Email, "a@example.com", &[&fired, &resolved], "k");
        assert_eq!(
            m.subject,
            "[Prognos] ALERT wheel W03 health 42 (below 70); RESOLVED wheel W02 health back to 81 at parkA"
        );
        assert!(m.text.contains("acknowledge: https://dash.example/alerts/1"), "{}", m.text);
        let html = m.html.unwrap();
        assert!(html.contains("<a href=\"https://dash.example/assets/W03\">"), "{html}");
        assert_eq!(m.payload["alerts"][0]["notice"], "firing");
        assert_eq!(m.payload["alerts"][1]["asset_id"], "W02");
    }

    #[test]
    fn a_health_alert_names_what_pulled_the_score_down_and_still_fits_two_segments() {
        let mut a = alert(3, "W07", 41.0);
        a.detail = json!({"model": "wheel-health", "drivers": [
            {"feature": "flat_spot_depth", "contribution": -38.5},
            {"feature": "flat_spot_length", "contribution": -12.25},
            {"feature": "runout_once_per_turn", "contribution": -4.0},
        ]});
        let i = item(a.clone(), Kind::Fired);
        let text = sms_text(&ctx(), &[&i]);
        assert_eq!(
            text,
            "Prognos parkA: ALERT wheel W07 health 41 (below 70), low on flat_spot_depth, flat_spot_length, \
             runout_once_per_turn. Open https://dash.example/assets/W07"
        );
        let m = build(&ctx(), "alice", Channel::Email, "a@example.com", &[&i], "k");
        assert!(
            m.text.contains("pulled down by: flat_spot_depth -38.5, flat_spot_length -12.2, runout_once_per_turn -4"),
            "{}",
            m.text
        );
        // Long asset names and many features: still two segments, the link kept.
        a.asset_id = "WHEEL-WITH-A-VERY-LONG-NAME-".repeat(4);
        a.detail["drivers"] = json!((0..3)
            .map(|k| json!({"feature": format!("a_rather_long_feature_name_number_{k}"), "contribution": -5.0}))
            .collect::<Vec<_>>());
        let long = item(a, Kind::Fired);
        let text = sms_text(&ctx(), &[&long]);
        assert!(sms_segments(&text) <= MAX_SMS_SEGMENTS, "{text}");
        assert!(text.ends_with(&format!("Open https://dash.example/assets/{}", long.alert.asset_id)), "{text}");
    }

    #[test]
    fn drift_names_the_model_the_feature_and_the_index() {
        let mut a = alert(9, "wheel-health", 0.4137);
        a.rule = DRIFT_RULE.into();
        a.threshold = Some(0.25);
        a.detail = json!({"model": "wheel-health", "version": "1.1.0", "feature": "flat_spot_depth", "psi": 0.4137});
        let i = Item { alert: a.clone(), kind: Kind::Fired, noun: "model", trend: Vec::new() };
        assert_eq!(
            sms_text(&ctx(), &[&i]),
            "Prognos parkA: ALERT model wheel-health inputs drift: PSI 0.41 on flat_spot_depth (above 0.25). \
             Open https://dash.example/models/wheel-health"
        );
        let m = build(&ctx(), "alice", Channel::Email, "a@example.com", &[&i], "k");
        assert!(m.text.contains("input drift (PSI): 0.41 on flat_spot_depth"), "{}", m.text);
        assert!(m.text.contains("model: wheel-health@1.1.0"), "{}", m.text);
        a.value = Some(0.12);
        let r = Item { alert: a, kind: Kind::Resolved, noun: "model", trend: Vec::new() };
        assert!(sms_text(&ctx(), &[&r]).contains("RESOLVED model wheel-health inputs back in line (PSI 0.12)"));
    }

    #[test]
    fn numbers_and_durations_read_well() {
        assert_eq!(duration(40.0), "40s");
        assert_eq!(duration(25.0 * 60.0), "25m");
        assert_eq!(duration(2.0 * 3600.0 + 300.0), "2h05m");
        assert_eq!(duration(3.0 * 86_400.0 + 4.0 * 3600.0), "3d4h");
        assert_eq!(num(70.0), "70");
        assert_eq!(num(69.96), "69.9");
        assert_eq!(num(55.25), "55.2");
        assert_eq!(num(55.3), "55.3");
    }
}
