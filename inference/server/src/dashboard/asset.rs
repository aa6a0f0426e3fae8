//! The asset page: the health-score trend with the threshold line, model-version changes and alerts marked; a
//! wheel's mean height and mean intensity trends; an inverter's AC power, efficiency, yield and peer deviation; recent
//! scored inputs and the alert history.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Extension;
use chrono::{DateTime, Duration, DurationRound, Utc};
use maud::{html, Markup, PreEscaped};
use prognos_store::{
    AlertFilter, AssetKind, AssetRecord, PredictionFilter, PredictionRecord, Store, StoreError, TrendMetric,
    TrendRequest, INVERTER_FEATURE_SET,
};
use serde::Deserialize;

use super::capture::internal;
use super::pages::{self, ago, when};
use super::svg::{HLine, Marker, MarkerKind, Point, Series, TimeChart};
use super::DashState;
use crate::auth::Caller;

/// The alert threshold when the model's card cannot be found.
pub const DEFAULT_THRESHOLD: f64 = 70.0;

/// Chart ranges offered, ending at the asset's last observation.
const RANGES: &[(&str, i64)] =
    &[("1h", 3600), ("1d", 86_400), ("7d", 7 * 86_400), ("30d", 30 * 86_400), ("1y", 365 * 86_400)];

/// Bucket widths charts pick from: the smallest giving at most [`MAX_POINTS`] buckets.
const BUCKETS: &[i64] = &[1, 5, 15, 30, 60, 300, 900, 1800, 3600, 3 * 3600, 6 * 3600, 12 * 3600, 86_400, 7 * 86_400];
const MAX_POINTS: i64 = 400;

/// `GET /assets/{id}` parameters.
#[derive(Debug, Deserialize)]
pub struct AssetQuery {
    /// `1h`, `1d`, `7d`, `30d`, `1y` or `all` (default: `all`, capped at a year).
    pub range: Option<String>,
}

/// The time window and bucket a chart covers.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Window {
    /// Start.
    pub from: DateTime<Utc>,
    /// End (exclusive).
    pub to: DateTime<Utc>,
    /// Bucket width.
    pub bucket: Duration,
}

/// The window for `range` over an asset seen from `first` to `last`.
pub fn window(range: &str, first: DateTime<Utc>, last: DateTime<Utc>) -> Window {
    let span = RANGES.iter().find(|(n, _)| *n == range).map(|(_, s)| Duration::seconds(*s));
    let to = last + Duration::seconds(1);
    let from = match span {
        Some(s) => to - s,
        None => first.max(to - Duration::days(365)),
    };
    let from = if to - from < Duration::seconds(10) { to - Duration::seconds(10) } else { from };
    let secs = (to - from).num_seconds().max(1);
    let width = BUCKETS.iter().copied().find(|b| secs / b <= MAX_POINTS).unwrap_or(30 * 86_400);
    // Align the start to the bucket so buckets fall on round times (midnight for days).
    let bucket = Duration::seconds(width);
    let from = from.duration_trunc(bucket).unwrap_or(from);
    Window { from, to, bucket }
}

/// The health threshold of `model@version` from its card, or 70.
pub fn threshold(dash: &DashState, latest: Option<&PredictionRecord>) -> f64 {
    latest
        .and_then(|p| dash.app.models.resolve(&format!("{}@{}", p.model, p.model_version)).ok())
        .map(|h| h.card().alert.threshold)
        .unwrap_or(DEFAULT_THRESHOLD)
}

/// A metric's trend over `w` as chart points.
pub async fn series(store: &Store, asset: &str, metric: TrendMetric, w: Window) -> Result<Vec<Point>, StoreError> {
    let request = TrendRequest { asset_id: asset.to_string(), metric, from: w.from, to: w.to, bucket: w.bucket };
    Ok(store
        .trend(&request)
        .await?
        .into_iter()
        .map(|b| Point { at: b.start, min: b.min, mean: b.mean, max: b.max })
        .collect())
}

/// Where the asset's model version changed inside `w`: for each version seen, its newest prediction in the
/// window; sorted by time, each version after the first is marked where its predecessor's last one was (within
/// one prediction interval of the real switch). A version used, replaced and used again shows once.
pub async fn version_changes(
    store: &Store,
    asset: &str,
    model: &str,
    versions: &[String],
    w: Window,
) -> Result<Vec<Marker>, StoreError> {
    let mut last_of: Vec<(DateTime<Utc>, String)> = Vec::new();
    for v in versions {
        let filter = PredictionFilter {
            asset_id: Some(asset.to_string()),
            model: Some(model.to_string()),
            model_version: Some(v.clone()),
            from: Some(w.from),
            to: Some(w.to),
            limit: 1,
            ..Default::default()
        };
        if let Some(p) = store.list_predictions(&filter).await?.into_iter().next() {
            last_of.push((p.observed_at, v.clone()));
        }
    }
    last_of.sort();
    Ok(last_of
        .windows(2)
        .map(|pair| Marker { at: pair[0].0, label: format!("model {}", pair[1].1), kind: MarkerKind::ModelVersion })
        .collect())
}

/// The versions of `model` worth looking for: those in the registry on disk and the latest prediction's.
fn known_versions(dash: &DashState, model: &str, latest: &str) -> Vec<String> {
    let mut versions: Vec<String> = prognos_scoring::scan(&dash.app.settings.models.dir)
        .map(|entries| entries.into_iter().filter(|e| e.name == model).map(|e| e.version).collect())
        .unwrap_or_default();
    if !versions.iter().any(|v| v == latest) {
        versions.push(latest.to_string());
    }
    versions
}

fn chart(title: &str, w: Window, series: Vec<Series>) -> TimeChart {
    TimeChart {
        title: title.into(),
        width: 1180,
        height: 300,
        from: w.from,
        to: w.to,
        y_range: None,
        max_gap: Some(w.bucket * 6),
        series,
        hlines: Vec::new(),
        markers: Vec::new(),
    }
}

/// `GET /assets/{id}`.
pub async fn page(
    State(dash): State<DashState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    Query(q): Query<AssetQuery>,
) -> Response {
    match render(&dash, &caller, &id, q.range.as_deref().unwrap_or("all")).await {
        Ok(Some(resp)) => resp,
        Ok(None) => {
            pages::error_page(StatusCode::NOT_FOUND, &caller, "No such asset", &format!("No asset {id} is stored."))
        }
        Err(e) => internal(&caller, e),
    }
}

async fn render(dash: &DashState, caller: &Caller, id: &str, range: &str) -> Result<Option<Response>, StoreError> {
    let store = &dash.app.store;
    let Some(asset) = store.asset(id).await? else { return Ok(None) };
    let recent = store.predictions_for_asset(id, 20).await?;
    let latest = recent.first();
    let threshold = threshold(dash, latest);
    let alerts =
        store.alerts(&AlertFilter { asset_id: Some(id.to_string()), limit: Some(50), ..Default::default() }).await?;
    let observed = latest.map(|p| p.observed_at.max(asset.last_seen)).unwrap_or(asset.last_seen);
    // Alerts are stamped with the wall clock when they fire, just after the observation; stretch the window to
    // show them, but not for replayed old data whose alerts fired long after it was observed.
    let last = alerts
        .iter()
        .map(|a| a.fired_at.unwrap_or(a.opened_at))
        .filter(|t| *t > observed && *t - observed < Duration::days(1))
        .fold(observed, DateTime::max);
    let w = window(range, asset.first_seen, last);

    let mut health = chart(
        "Health score",
        w,
        vec![Series {
            name: "health score".into(),
            color: "#1f77b4",
            points: series(store, id, TrendMetric::HealthScore, w).await?,
        }],
    );
    health.y_range = Some((0.0, 100.0));
    health.hlines.push(HLine { value: threshold, label: format!("alert threshold {threshold}") });
    if let Some(p) = latest {
        let versions = known_versions(dash, &p.model, &p.model_version);
        health.markers = version_changes(store, id, &p.model, &versions, w).await?;
    }
    for a in &alerts {
        let at = a.fired_at.unwrap_or(a.opened_at);
        health.markers.push(Marker { at, label: format!("alert #{} ({})", a.id, a.rule), kind: MarkerKind::Alert });
    }
    let mut charts = vec![health.render()];
    // An inverter without window feature rows in the range: the page says so under its charts.
    let mut no_features = false;
    match asset.kind {
        AssetKind::Wheel => {
            for (metric, title, color) in [
                (TrendMetric::MeanHeight, "Mean tread height", "#2ca02c"),
                (TrendMetric::MeanIntensity, "Mean intensity", "#ff7f0e"),
            ] {
                let points = series(store, id, metric, w).await?;
                charts.push(chart(title, w, vec![Series { name: title.to_lowercase(), color, points }]).render());
            }
        }
        AssetKind::Inverter => {
            // Its raw AC power readings, then the window features.
            let mut any_feature = false;
            let power = series(store, id, TrendMetric::Reading(prognos_core::Metric::AcPowerW), w).await?;
            if !power.is_empty() {
                let line = Series { name: "ac_power_w".into(), color: "#1f77b4", points: power };
                charts.push(chart("AC power (W)", w, vec![line]).render());
            }
            for (name, title, color) in [
                ("efficiency", "Efficiency (AC / DC)", "#2ca02c"),
                ("specific_yield", "Specific yield (AC power / rated power at the irradiance)", "#9467bd"),
                ("peer_deviation", "Deviation from the site's median inverter", "#ff7f0e"),
            ] {
                let metric = TrendMetric::Feature { feature_set: INVERTER_FEATURE_SET.into(), name: name.into() };
                let points = series(store, id, metric, w).await?;
                if !points.is_empty() {
                    charts.push(chart(title, w, vec![Series { name: name.into(), color, points }]).render());
                    any_feature = true;
                }
            }
            no_features = !any_feature;
        }
    }
    let body = body(&asset, latest, threshold, range, w, &charts, no_features, &recent, &alerts);
    Ok(Some(pages::page(&format!("{} {}", asset.kind.as_str(), asset.id), caller, body)))
}

#[allow(clippy::too_many_arguments)]
fn body(
    asset: &AssetRecord,
    latest: Option<&PredictionRecord>,
    threshold: f64,
    range: &str,
    w: Window,
    charts: &[String],
    no_features: bool,
    recent: &[PredictionRecord],
    alerts: &[prognos_store::AlertRecord],
) -> Markup {
    let now = Utc::now();
    let href = pages::asset_href(&asset.id);
    html! {
        h1 { (if asset.kind == AssetKind::Wheel { "Wheel " } else { "Inverter " }) (asset.id) }
        p {
            "Site " b { (asset.site) } " · seen " (when(asset.first_seen)) " to " (when(asset.last_seen))
            @if let Some(p) = latest {
                " · latest health "
                span #latest-score class=(if p.health_score < threshold { "bad" } else { "ok" }) { (format!("{:.1}", p.health_score)) }
                " (" (p.model) " " (p.model_version) ", " (ago(p.observed_at, now)) ")"
            }
        }
        nav.range {
            "Range: "
            @for (name, _) in RANGES.iter().chain(std::iter::once(&("all", 0))) {
                a class=(if *name == range { "on" } else { "" }) href=(format!("{href}?range={name}")) { (name) }
            }
            span.muted { (when(w.from)) " to " (when(w.to)) ", " (w.bucket.num_seconds()) " s buckets (line: mean, band: min to max)" }
        }
        @if no_features {
            p.muted { "No " (INVERTER_FEATURE_SET) " feature rows are stored for this inverter in this range." }
        }
        @if let Some(p) = latest.filter(|p| p.explanation.is_some()) {
            div.card #latest-explanation {
                h2 { "What pulled the latest score down" }
                (pages::explanation_table(p.explanation.as_deref()))
            }
        }
        @for c in charts {
            div.card.chart-card { (PreEscaped(c)) }
        }
        @let id = super::session::percent_encode(&asset.id);
        @let features = if asset.kind == AssetKind::Wheel { String::new() } else { "&feature_set=inverter-v1".into() };
        p #downloads {
            "Download predictions ("
            a href=(format!("/exports/predictions.csv?asset={id}")) { "CSV" } ", "
            a href=(format!("/exports/predictions.parquet?asset={id}")) { "Parquet" }
            "), features in the training-data format ("
            a href=(format!("/exports/features.csv?asset={id}{features}")) { "CSV" } ", "
            a href=(format!("/exports/features.parquet?asset={id}{features}")) { "Parquet" } ")"
        }
        h2 { "Alert history" }
        @if alerts.is_empty() { p.muted #no-alerts { "No alerts for this asset." } } @else {
            table #alerts {
                tr { th { "#" } th { "rule" } th { "state" } th { "value" } th { "opened" } th { "fired" } th { "resolved" } th { "acknowledged" } }
                @for a in alerts {
                    tr.alert {
                        td { (a.id) } td { (a.rule) }
                        td { span class=(format!("pill {}", a.state.as_str())) { (a.state.as_str()) } }
                        td.num { (a.value.map(|v| format!("{v:.1}")).unwrap_or_default()) }
                        td { (when(a.opened_at)) }
                        td { (a.fired_at.map(when).unwrap_or_default()) }
                        td { (a.resolved_at.map(when).unwrap_or_default()) }
                        td { (a.acked_by.clone().unwrap_or_default()) " " (a.acked_at.map(when).unwrap_or_default()) }
                    }
                }
            }
        }
        h2 { "Latest scores" }
        table #recent {
            tr { th { "observed" } th { "health" } th {} th { "label" } th { "model" } th { "pulled down by" } th { "input" } }
            @for p in recent {
                tr {
                    td { (when(p.observed_at)) }
                    (pages::score_cell(p.health_score, threshold))
                    td { (p.label) } td { (p.model) " " (p.model_version) }
                    td.drivers { (pages::explanation_names(p.explanation.as_deref())) }
                    td { @if let Some(c) = p.capture_id { a href=(format!("/captures/{c}")) { "capture " (c) } } }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn windows_pick_round_buckets_and_cap_points() {
        let last = Utc.with_ymd_and_hms(2026, 11, 22, 10, 30, 7).unwrap();
        let first = last - Duration::days(800);
        let w = window("all", first, last);
        assert_eq!(w.bucket, Duration::days(1));
        assert!(w.to - w.from <= Duration::days(366));
        assert_eq!(w.from.timestamp() % 86_400, 0, "day buckets start at midnight");
        let w = window("1h", first, last);
        assert_eq!(w.bucket, Duration::seconds(15));
        assert!((w.to - w.from).num_seconds() / w.bucket.num_seconds() <= MAX_POINTS + 1);
        let w = window("all", last - Duration::seconds(3), last);
        assert!(w.to - w.from >= Duration::seconds(10));
        assert_eq!(w.bucket, Duration::seconds(1));
    }
}
