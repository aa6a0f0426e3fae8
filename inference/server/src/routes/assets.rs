//! Assets and their trends: `GET /v1/assets` (paged, by kind and site, each with its latest prediction),
//! `GET /v1/assets/{id}` and `GET /v1/assets/{id}/trend` (time-bucketed min, mean and max of the health score).

use axum::extract::{Path, Query, State};
use axum::Json;
use chrono::{DateTime, Duration, Utc};
use serde::Deserialize;
use serde_json::{json, Value};

use prognos_store::{AssetFilter, AssetKind};

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
    let limit = q.limit.unwrap_or(100);
    if !(1..=10_000).contains(&limit) {
        return Err(invalid(format!("limit must be 1 to 10000, got {limit}")));
    }
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
    /// `health_score` (the only metric stored per prediction so far).
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
pub async fn trend(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<TrendQuery>,
) -> Result<Json<Value>, ApiError> {
    let invalid = |code: &'static str, message: String| ApiError::Invalid { code, message };
    let metric = q.metric.unwrap_or_else(|| "health_score".into());
    if metric != "health_score" {
        return Err(invalid("unknown_metric", format!("metric {metric:?} is not one of: health_score")));
    }
    let bucket_text = q.bucket.unwrap_or_else(|| "1h".into());
    let bucket = parse_bucket(&bucket_text)
        .ok_or_else(|| invalid("invalid_bucket", format!("bucket {bucket_text:?}: use 30s, 15m, 1h, 1d or seconds")))?;
    let to = q.to.unwrap_or_else(Utc::now);
    let from = q.from.unwrap_or(to - Duration::days(7));
    if from >= to {
        return Err(invalid("invalid_range", "from must be before to".into()));
    }
    let width = bucket.num_milliseconds();
    if (to - from).num_milliseconds() / width > 100_000 {
        return Err(invalid(
            "too_many_buckets",
            "more than 100,000 buckets: widen the bucket or narrow the range".into(),
        ));
    }
    let points = state.store.prediction_trend(&id, from, to).await?;
    let mut buckets: Vec<Value> = Vec::new();
    let mut current: Option<(i64, f64, f64, f64, usize)> = None; // (index, min, max, sum, count)
    let flush = |c: (i64, f64, f64, f64, usize), buckets: &mut Vec<Value>| {
        let start = from + Duration::milliseconds(c.0 * width);
        buckets.push(json!({
            "start": start.to_rfc3339(),
            "min": c.1,
            "mean": c.3 / c.4 as f64,
            "max": c.2,
            "count": c.4,
        }));
    };
    for p in &points {
        let index = (p.scored_at - from).num_milliseconds() / width;
        let v = p.health_score;
        current = match current {
            Some(c) if c.0 == index => Some((index, c.1.min(v), c.2.max(v), c.3 + v, c.4 + 1)),
            Some(c) => {
                flush(c, &mut buckets);
                Some((index, v, v, v, 1))
            }
            None => Some((index, v, v, v, 1)),
        };
    }
    if let Some(c) = current {
        flush(c, &mut buckets);
    }
    Ok(Json(json!({
        "asset": id,
        "metric": metric,
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
