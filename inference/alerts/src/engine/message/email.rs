//! The email parts: a subject, a text body and an HTML body with each alert's facts, trend and links.

use std::fmt::Write as _;

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::{
    drift_feature, drivers, duration, escalation_note, groups, num, psi_text, range_text, sites, Context, Item, Kind,
};
use crate::engine::config::{DRIFT_RULE, NO_DATA_RULE, RANGE_RULE_PREFIX};

/// `[Prognos] ALERT 3 wheels below 70; RESOLVED wheel W02 health back to 81 at parkA`.
pub(super) fn subject(items: &[&Item]) -> String {
    let groups = groups(items);
    let sites = sites(items);
    let mut parts: Vec<String> = Vec::new();
    for g in &groups {
        parts.push(format!("{} {}", g.kind.label(), g.headline()));
    }
    let mut subject = format!("[Prognos] {}", parts.join("; "));
    if !sites.is_empty() {
        let _ = write!(subject, " at {sites}");
    }
    subject
}

fn html_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A contribution in health points, with its sign, rounded like other numbers (`-38.5`, `-4`).
fn signed(v: f64) -> String {
    if v < 0.0 {
        format!("-{}", num(-v))
    } else {
        format!("+{}", num(v))
    }
}

fn when(at: Option<DateTime<Utc>>) -> String {
    at.map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string()).unwrap_or_else(|| "-".into())
}

/// One alert's facts as label/value lines, shared by the text and HTML parts.
fn facts(ctx: &Context, item: &Item) -> Vec<(&'static str, String)> {
    let a = &item.alert;
    let mut lines = Vec::new();
    let value = a.value.map(num).unwrap_or_else(|| "-".into());
    if a.rule == NO_DATA_RULE {
        lines.push(("silent for", a.value.map(duration).unwrap_or_else(|| "-".into())));
        lines.push(("expected every", a.threshold.map(duration).unwrap_or_else(|| "-".into())));
    } else if a.rule == DRIFT_RULE {
        let psi = a.value.map(psi_text).unwrap_or_else(|| "-".into());
        lines.push(("input drift (PSI)", format!("{psi} on {}", drift_feature(a))));
        lines.push(("threshold", a.threshold.map(|t| format!("above {}", psi_text(t))).unwrap_or_else(|| "-".into())));
        let version = a.detail.get("version").and_then(Value::as_str).unwrap_or("?");
        lines.push(("model", format!("{}@{version}", a.asset_id)));
    } else if let Some(metric) = a.rule.strip_prefix(RANGE_RULE_PREFIX) {
        lines.push(("metric", format!("{metric} = {value}")));
        lines.push(("allowed", range_text(a)));
    } else {
        lines.push(("health score", value));
        lines.push(("threshold", a.threshold.map(|t| format!("below {}", num(t))).unwrap_or_else(|| "-".into())));
        if let Some(model) = a.detail.get("model").and_then(Value::as_str) {
            lines.push(("model", model.to_string()));
        }
        let drivers = drivers(a);
        if !drivers.is_empty() && item.kind != Kind::Resolved {
            let list: Vec<String> = drivers.iter().map(|(f, c)| format!("{f} {}", signed(*c))).collect();
            lines.push(("pulled down by", list.join(", ")));
        }
    }
    if !item.trend.is_empty() {
        let scores: Vec<String> = item.trend.iter().map(|p| num(p.health_score)).collect();
        lines.push(("recent scores", format!("{} (oldest first)", scores.join(" > "))));
    }
    lines.push(("site", if a.site.is_empty() { "-".into() } else { a.site.clone() }));
    if !a.pipeline.is_empty() {
        lines.push(("pipeline", a.pipeline.clone()));
    }
    lines.push(("firing since", when(a.fired_at)));
    if item.kind == Kind::Resolved {
        lines.push(("resolved at", when(a.resolved_at)));
    }
    lines.push(("open", ctx.link(a)));
    if item.kind != Kind::Resolved {
        lines.push(("acknowledge", ctx.ack_link(a)));
    }
    lines
}

/// The text and HTML bodies: a section per kind of notice, and per alert its facts, trend and links.
pub(super) fn bodies(ctx: &Context, items: &[&Item]) -> (String, String) {
    let groups = groups(items);
    let mut text = format!("Prognos alerts for route {}\n", ctx.route);
    let mut html = format!(
        "<!DOCTYPE html><html><body style=\"font-family:sans-serif\"><p>Prognos alerts for route <b>{}</b></p>",
        html_escape(ctx.route)
    );
    for g in &groups {
        let title = format!("{}{}: {}", g.kind.label(), escalation_note(ctx, g.kind), g.headline());
        let _ = write!(text, "\n{title}\n");
        let _ = write!(html, "<h2>{}</h2>", html_escape(&title));
        for item in &g.items {
            let a = &item.alert;
            let _ = writeln!(text, "- {} {}", item.noun, a.asset_id);
            let _ = write!(html, "<h3>{} {}</h3><table>", html_escape(item.noun), html_escape(&a.asset_id));
            for (label, value) in facts(ctx, item) {
                let _ = writeln!(text, "    {label}: {value}");
                let shown = if value.starts_with("http://") || value.starts_with("https://") {
                    format!("<a href=\"{0}\">{0}</a>", html_escape(&value))
                } else {
                    html_escape(&value)
                };
                let _ = write!(html, "<tr><td>{}</td><td>{shown}</td></tr>", html_escape(label));
            }
            html.push_str("</table>");
        }
    }
    html.push_str("</body></html>");
    (text, html)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_is_escaped() {
        assert_eq!(html_escape("<a href='x'>&\""), "&lt;a href=&#39;x&#39;&gt;&amp;&quot;");
    }
}
