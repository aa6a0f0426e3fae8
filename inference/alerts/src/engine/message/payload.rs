//! The webhook body: every alert's facts as JSON.

use serde_json::{json, Value};

use super::{groups, Context, Item};

/// The webhook body (also stored with SMS and email notifications, for the record).
pub(super) fn payload(ctx: &Context, contact: &str, items: &[&Item], summary: &str) -> Value {
    let alerts: Vec<Value> = groups(items)
        .iter()
        .flat_map(|g| g.items.iter())
        .map(|item| {
            let a = &item.alert;
            let trend: Vec<Value> =
                item.trend.iter().map(|p| json!({"scored_at": p.scored_at, "health_score": p.health_score})).collect();
            json!({
                "notice": item.kind.as_str(),
                "id": a.id,
                "rule": a.rule,
                "asset_id": a.asset_id,
                "asset_kind": item.noun,
                "site": a.site,
                "pipeline": a.pipeline,
                "state": a.state.as_str(),
                "value": a.value,
                "threshold": a.threshold,
                "opened_at": a.opened_at,
                "fired_at": a.fired_at,
                "resolved_at": a.resolved_at,
                "acked_by": a.acked_by,
                "escalation_level": a.escalation_level,
                "detail": a.detail,
                "trend": trend,
                "url": ctx.link(a),
                "ack_url": ctx.ack_link(a),
            })
        })
        .collect();
    json!({
        "source": "prognos",
        "route": ctx.route,
        "contact": contact,
        "generated_at": ctx.now,
        "summary": summary,
        "alerts": alerts,
    })
}
