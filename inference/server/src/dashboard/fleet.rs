//! The fleet page: every asset ranked by health (latest score, worst first), the average score per site and
//! camera per day, open alerts, data sources gone silent and failed notifications.

use std::collections::BTreeMap;

use futures_util::{StreamExt, TryStreamExt};

use axum::extract::State;
use axum::response::Response;
use axum::Extension;
use chrono::{DateTime, Duration, DurationRound, Utc};
use maud::{html, Markup};
use prognos_store::{
    AlertFilter, AlertRecord, AssetFilter, AssetKind, AssetSummary, HeartbeatRecord, NotificationFilter,
    NotificationRecord, NotificationStatus, Store, StoreError, TrendMetric, TrendRequest,
};

use super::asset::DEFAULT_THRESHOLD;
use super::capture::internal;
use super::pages::{self, ago, asset_href, when};
use super::DashState;
use crate::auth::Caller;

/// Days shown in the per-day table.
pub const DAYS: i64 = 14;
/// Assets read per store page.
const PAGE: i64 = 500;
/// The most assets the per-day table aggregates (each costs one trend query).
const MAX_DAILY_ASSETS: usize = 2000;
/// Per-asset trends the per-day table runs at once.
const CONCURRENT_TRENDS: usize = 4;
/// A source with no heartbeat for this long is silent, unless its pipeline declares its own interval.
pub const DEFAULT_SILENCE: Duration = Duration::minutes(15);

/// Every asset with its latest prediction, worst health first; assets never scored last.
pub async fn ranked_assets(store: &Store) -> Result<Vec<AssetSummary>, StoreError> {
    let mut all = Vec::new();
    let mut after = None;
    loop {
        let page = store.list_assets(&AssetFilter { after: after.clone(), limit: PAGE, ..Default::default() }).await?;
        let done = (page.len() as i64) < PAGE;
        after = page.last().map(|a| a.asset.id.clone());
        all.extend(page);
        if done || after.is_none() {
            break;
        }
    }
    all.sort_by(|a, b| {
        let score = |s: &AssetSummary| s.latest.as_ref().map(|p| p.health_score).unwrap_or(f64::INFINITY);
        score(a).total_cmp(&score(b)).then_with(|| a.asset.id.cmp(&b.asset.id))
    });
    Ok(all)
}

/// One row of the per-day table: a group (site, or site / camera) and its (sum, count) per day index.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DailyRow {
    /// Per day index (0 = oldest): sum of scores and their number.
    pub days: BTreeMap<i64, (f64, i64)>,
}

/// Average health per group per day over the [`DAYS`] days ending with the day of `last`, from each asset's
/// daily trend (computed in SQL, and from the retained daily aggregates for old days). Wheels are grouped by
/// site and the camera of their latest capture; inverters by site.
pub async fn daily_by_group(
    store: &Store,
    assets: &[AssetSummary],
    last: DateTime<Utc>,
) -> Result<(DateTime<Utc>, BTreeMap<String, DailyRow>), StoreError> {
    let day = Duration::days(1);
    let to = last.duration_trunc(day).unwrap_or(last) + day;
    let from = to - Duration::days(DAYS);
    // One trend per asset, a few at a time (SQLite readers run side by side in WAL mode, PostgreSQL too).
    let wanted: Vec<(String, AssetKind, String, Option<i64>)> = assets
        .iter()
        .filter(|a| a.latest.is_some())
        .take(MAX_DAILY_ASSETS)
        .map(|a| (a.asset.id.clone(), a.asset.kind, a.asset.site.clone(), a.latest.as_ref().and_then(|p| p.capture_id)))
        .collect();
    let per_asset = futures_util::stream::iter(wanted)
        .map(|(id, kind, site, capture)| {
            let store = store.clone();
            async move {
                let request = TrendRequest { asset_id: id, metric: TrendMetric::HealthScore, from, to, bucket: day };
                let buckets = store.trend(&request).await?;
                if buckets.is_empty() {
                    return Ok::<_, StoreError>(None);
                }
                let group = match (kind, capture) {
                    (AssetKind::Wheel, Some(c)) => match store.capture(c).await? {
                        Some(c) => format!("{site} / {}", c.capture.camera),
                        None => site,
                    },
                    _ => site,
                };
                Ok(Some((group, buckets)))
            }
        })
        .buffered(CONCURRENT_TRENDS)
        .try_collect::<Vec<_>>()
        .await?;
    let mut groups: BTreeMap<String, DailyRow> = BTreeMap::new();
    for (group, buckets) in per_asset.into_iter().flatten() {
        let row = groups.entry(group).or_default();
        for b in buckets {
            let index = (b.start - from).num_days();
            let cell = row.days.entry(index).or_insert((0.0, 0));
            cell.0 += b.mean * b.count as f64;
            cell.1 += b.count;
        }
    }
    Ok((from, groups))
}

/// Heartbeat sources with their silence limit: a camera's pipeline `expected_interval_s`, else the default.
fn silence_limit(dash: &DashState, source: &str) -> Duration {
    let camera = source.rsplit('/').next().unwrap_or(source);
    dash.expected_intervals
        .iter()
        .find(|(c, _)| c == camera || c == source)
        .map(|(_, s)| Duration::seconds(*s as i64))
        .unwrap_or(DEFAULT_SILENCE)
}

/// `GET /fleet`.
pub async fn page(State(dash): State<DashState>, Extension(caller): Extension<Caller>) -> Response {
    match render(&dash).await {
        Ok(body) => pages::page("Fleet", &caller, body),
        Err(e) => internal(&caller, e),
    }
}

async fn render(dash: &DashState) -> Result<Markup, StoreError> {
    let store = &dash.app.store;
    let now = Utc::now();
    let assets = ranked_assets(store).await?;
    let last = assets.iter().filter_map(|a| a.latest.as_ref().map(|p| p.observed_at)).max().unwrap_or(now);
    let (from, daily) = daily_by_group(store, &assets, last).await?;
    let open = store.alerts(&AlertFilter { open_only: true, limit: Some(200), ..Default::default() }).await?;
    let heartbeats = store.heartbeats().await?;
    let failed = store
        .notifications(&NotificationFilter {
            status: Some(NotificationStatus::Failed),
            limit: Some(20),
            ..Default::default()
        })
        .await?;
    let silent: Vec<(&HeartbeatRecord, Duration)> = heartbeats
        .iter()
        .map(|h| (h, silence_limit(dash, &h.source)))
        .filter(|(h, limit)| now - h.last_seen > *limit)
        .collect();
    Ok(html! {
        h1 { "Fleet" }
        p.muted {
            (assets.len()) " assets · " (open.len()) " open alerts · " (silent.len()) " silent sources · "
            (failed.len()) " failed notifications" @if failed.len() == 20 { "+" }
        }
        div.grid {
            div.card { h2 { "Assets by health" } (ranking(&assets, now)) }
            div {
                div.card { h2 { "Open alerts" } (open_alerts(&open)) }
                div.card { h2 { "Silent data sources" } (silent_sources(&heartbeats, &silent, now)) }
                div.card { h2 { "Failed notifications" } (failed_notifications(&failed)) }
                div.card { h2 { "Model inputs" } (super::models::fleet_table(dash)) }
            }
        }
        div.card {
            h2 { "Average health per day" }
            (daily_table(from, &daily))
        }
    })
}

fn ranking(assets: &[AssetSummary], now: DateTime<Utc>) -> Markup {
    html! {
        @if assets.is_empty() { p.muted { "No assets yet: they appear with their first capture or reading." } } @else {
            table #ranking {
                tr { th { "asset" } th { "kind" } th { "site" } th { "health" } th {} th { "model" } th { "observed" } }
                @for a in assets {
                    tr.asset data-asset=(a.asset.id) {
                        td { a href=(asset_href(&a.asset.id)) { (a.asset.id) } }
                        td { (a.asset.kind.as_str()) }
                        td { (a.asset.site) }
                        @if let Some(p) = &a.latest {
                            (pages::score_cell(p.health_score, DEFAULT_THRESHOLD))
                            td { (p.model_version) }
                            td title=(when(p.observed_at)) { (ago(p.observed_at, now)) }
                        } @else {
                            td.muted { "not scored" } td {} td {} td {}
                        }
                    }
                }
            }
        }
    }
}

fn open_alerts(open: &[AlertRecord]) -> Markup {
    html! {
        @if open.is_empty() { p.ok #no-open-alerts { "No open alerts." } } @else {
            table #open-alerts {
                tr { th { "asset" } th { "rule" } th { "state" } th { "value" } th { "since" } th { "ack" } }
                @for a in open {
                    tr {
                        td { a href=(asset_href(&a.asset_id)) { (a.asset_id) } }
                        td { (a.rule) }
                        td { span class=(format!("pill {}", a.state.as_str())) { (a.state.as_str()) } }
                        td.num { (a.value.map(|v| format!("{v:.1}")).unwrap_or_default()) }
                        td { (when(a.fired_at.unwrap_or(a.opened_at))) }
                        td { (a.acked_by.clone().unwrap_or_default()) }
                    }
                }
            }
        }
    }
}

fn silent_sources(all: &[HeartbeatRecord], silent: &[(&HeartbeatRecord, Duration)], now: DateTime<Utc>) -> Markup {
    html! {
        @if all.is_empty() { p.muted { "No data source has reported yet." } }
        @else if silent.is_empty() { p.ok { "All " (all.len()) " sources reported recently." } }
        @else {
            table #silent {
                tr { th { "source" } th { "last heard" } th { "expected within" } }
                @for (h, limit) in silent {
                    tr { td { (h.source) } td.warn title=(when(h.last_seen)) { (ago(h.last_seen, now)) } td { (limit.num_minutes()) " min" } }
                }
            }
        }
    }
}

fn failed_notifications(failed: &[NotificationRecord]) -> Markup {
    html! {
        @if failed.is_empty() { p.ok { "No failed notifications." } } @else {
            table #failed {
                tr { th { "channel" } th { "to" } th { "subject" } th { "attempts" } th { "failed" } th { "last error" } }
                @for n in failed {
                    tr {
                        td { (n.channel) } td { (n.recipient) } td { (n.subject) } td.num { (n.attempts) }
                        td { (n.failed_at.map(when).unwrap_or_default()) }
                        td { (n.last_error.clone().unwrap_or_default()) }
                    }
                }
            }
        }
    }
}

fn daily_table(from: DateTime<Utc>, daily: &BTreeMap<String, DailyRow>) -> Markup {
    html! {
        @if daily.is_empty() { p.muted { "No scores in the last " (DAYS) " days of data." } } @else {
            table #daily {
                tr {
                    th { "site / camera" }
                    @for d in 0..DAYS { th { ((from + Duration::days(d)).format("%d %b")) } }
                }
                @for (group, row) in daily {
                    tr {
                        td { (group) }
                        @for d in 0..DAYS {
                            @match row.days.get(&d) {
                                Some((sum, n)) if *n > 0 => {
                                    @let avg = sum / *n as f64;
                                    td class=(if avg < DEFAULT_THRESHOLD { "num bad" } else { "num" }) title=(format!("{n} scores")) { (format!("{avg:.0}")) }
                                }
                                _ => { td.muted { "·" } }
                            }
                        }
                    }
                }
            }
        }
    }
}
