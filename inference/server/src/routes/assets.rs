//! Assets and their trends: `GET /v1/assets` (paged, by kind and site, each with its latest prediction),
//! `GET /v1/assets/{id}` and `GET /v1/assets/{id}/trend` (time-bucketed min, mean and max of a metric, computed in SQL).

use axum::extract::{Path, Query, State};
use axum::Json;
use chrono::{DateTime, Duration, Utc};
use serde::Deserialize;
use serde_json::{json, Value};

use prognos_store::{AssetFilter, AssetKind, TrendMetric, TrendRequest, INVERTER_FEATURE_SET, MAX_BUCKETS};

use crate::api_error::ApiError;
use crate::routes::predictions::prediction_json;
use crate::state::AppState;

/// `GET /v1/assets` parameters.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AssetsQuery {
    /// `wheel` or `inverter`.
    pub kind: Option<String>,
    /// Only assets of this site.
    pub site: Option<String>,
    /// The `next` cursor of the previous page (the last asset id it held).
    pub after: Option<String>,
    /// At most this many (default 100, at most 10,000).
    pub limit: Option<i64>,
}

/// Lists assets in id order, each with its latest prediction: `{"assets": [...], "next": cursor or null}`.
pub async fn list_assets(State(state): State<AppState>, Query(q): Query<AssetsQuery>) -> Result<Json<Value>, ApiError> {
    let invalid = |message: String| ApiError::Invalid { code: "invalid_query", message };
    let limit = super::page_limit(q.limit)?;
    let kind = match q.kind.as_deref() {
        None => None,
        Some(k) => Some(AssetKind::parse(k).ok_or_else(|| invalid(format!("kind {k:?}: wheel or inverter")))?),
    };
    let filter = AssetFilter { kind, site: q.site, after: q.after, limit };
    let rows = state.store.list_assets(&filter).await?;
    let next = (rows.len() as i64 == limit).then(|| rows.last().map(|a| a.asset.id.clone())).flatten();
    let assets: Vec<Value> = rows
        .into_iter()
        .map(|s| {
            json!({
                "id": s.asset.id,
                "kind": s.asset.kind.as_str(),
                "site": s.asset.site,
                "first_seen": s.asset.first_seen.to_rfc3339(),
                "last_seen": s.asset.last_seen.to_rfc3339(),
                "latest": s.latest.map(prediction_json),
            })
        })
        .collect();
    Ok(Json(json!({ "assets": assets, "next": next })))
}

/// One asset with its latest prediction.
pub async fn get_asset(State(state): State<AppState>, Path(id): Path<String>) -> Result<Json<Value>, ApiError> {
    let asset = state.store.asset(&id).await?.ok_or_else(|| ApiError::NotFound(format!("no asset {id}")))?;
    let latest = state.store.predictions_for_asset(&id, 1).await?;
    let latest = latest.first().map(|p| {
        json!({
            "health_score": p.health_score,
            "label": p.label,
            "model": p.model,
            "model_version": p.model_version,
            "scored_at": p.scored_at.to_rfc3339(),
            "explanation": p.explanation,
        })
    });
    Ok(Json(json!({
        "id": asset.id,
        "kind": format!("{:?}", asset.kind).to_lowercase(),
        "site": asset.site,
        "first_seen": asset.first_seen.to_rfc3339(),
        "last_seen": asset.last_seen.to_rfc3339(),
        "latest": latest,
    })))
}

/// `GET /v1/assets/{id}/trend` parameters.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrendQuery {
    /// `health_score` (default), `mean_height`, `mean_intensity`, or a window feature (`efficiency` for
    /// `inverter-v1`, or `<feature_set>:<feature>`).
    pub metric: Option<String>,
    /// Start (default: 7 days before `to`).
    pub from: Option<DateTime<Utc>>,
    /// End, exclusive (default: now).
    pub to: Option<DateTime<Utc>>,
    /// Bucket width: `30s`, `15m`, `1h`, `1d` or a number of seconds (default `1h`).
    pub bucket: Option<String>,
}

/// Parses `30s`, `15m`, `1h`, `1d`, or plain seconds.
pub fn parse_bucket(text: &str) -> Option<Duration> {
    let text = text.trim();
    let (number, unit) = match text.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        Some((i, _)) => (&text[..i], &text[i..]),
        None => (text, "s"),
    };
    let n: i64 = number.parse().ok().filter(|n| *n > 0)?;
    match unit {
        "s" => Some(Duration::seconds(n)),
        "m" => Some(Duration::minutes(n)),
        "h" => Some(Duration::hours(n)),
        "d" => Some(Duration::days(n)),
        _ => None,
    }
}

/// Time-bucketed min, mean and max of a metric for one asset, oldest bucket first; empty buckets are left out.
/// Computed in SQL by [`prognos_store::Store::trend`]: buckets start at `from`, values are placed by when they
/// were observed, and days retention has folded away come from the kept daily aggregates.
pub async fn trend(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<TrendQuery>,
) -> Result<Json<Value>, ApiError> {
    let invalid = |code: &'static str, message: String| ApiError::Invalid { code, message };
    let metric_text = q.metric.unwrap_or_else(|| "health_score".into());
    let metric =
        TrendMetric::parse(&metric_text, INVERTER_FEATURE_SET).map_err(|e| invalid("unknown_metric", e.to_string()))?;
    if let TrendMetric::Feature { feature_set, name } = &metric {
        let known: &[&str] = match feature_set.as_str() {
            prognos_features::inverter::FEATURE_SET => &prognos_features::inverter::FEATURE_NAMES,
            prognos_features::FEATURE_SET_VERSION => &prognos_features::FEATURE_NAMES,
            _ => &[],
        };
        if !known.contains(&name.as_str()) {
            return Err(invalid(
                "unknown_metric",
                format!(
                    "metric {metric_text:?}: use health_score, mean_height, mean_intensity, an {} feature, or \
                     {}:<feature>",
                    prognos_features::inverter::FEATURE_SET,
                    prognos_features::FEATURE_SET_VERSION
                ),
            ));
        }
    }
    let bucket_text = q.bucket.unwrap_or_else(|| "1h".into());
    let bucket = parse_bucket(&bucket_text)
        .ok_or_else(|| invalid("invalid_bucket", format!("bucket {bucket_text:?}: use 30s, 15m, 1h, 1d or seconds")))?;
    let to = q.to.unwrap_or_else(Utc::now);
    let from = q.from.unwrap_or(to - Duration::days(7));
    if from >= to {
        return Err(invalid("invalid_range", "from must be before to".into()));
    }
    if (to - from).num_seconds() / bucket.num_seconds().max(1) >= MAX_BUCKETS {
        return Err(invalid(
            "too_many_buckets",
            format!("more than {MAX_BUCKETS} buckets: widen the bucket or narrow the range"),
        ));
    }
    let request = TrendRequest { asset_id: id.clone(), metric: metric.clone(), from, to, bucket };
    let buckets: Vec<Value> = state
        .store
        .trend(&request)
        .await?
        .into_iter()
        .map(|b| {
            json!({
                "start": b.start.to_rfc3339(),
                "min": b.min,
                "mean": b.mean,
                "max": b.max,
                "count": b.count,
            })
        })
        .collect();
    Ok(Json(json!({
        "asset": id,
        "metric": metric.key(),
        "from": from.to_rfc3339(),
        "to": to.to_rfc3339(),
        "bucket_seconds": bucket.num_seconds(),
        "buckets": buckets,
    })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_widths_parse() {
        assert_eq!(parse_bucket("90"), Some(Duration::seconds(90)));
        assert_eq!(parse_bucket("15m"), Some(Duration::minutes(15)));
        assert_eq!(parse_bucket("1d"), Some(Duration::days(1)));
        assert_eq!(parse_bucket("0h"), None);
        assert_eq!(parse_bucket("2w"), None);
        assert_eq!(parse_bucket("h"), None);
    }
}
