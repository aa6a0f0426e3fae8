//! Window features after each accepted batch: the windows a batch touched are recomputed from the store
//! (all inverters of the site, so peer medians are right), stored as feature rows, and the scoring window is
//! scored with the pipeline's model.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use prognos_alerts::engine::MetricValue;
use prognos_core::pipeline::{parse_duration_s, InverterSource, Zone};
use prognos_core::Reading;
use prognos_features::inverter::{
    feature_names, window_features_with_history, DailyPerformance, History, InverterWindowRow, WindowSpec, FEATURE_SET,
};
use prognos_scoring::FeatureBatch;
use prognos_store::{Contribution, InverterDay, NewPrediction, NewWindowRow};

use super::InverterPipeline;

const DAY_S: i64 = 86_400;

/// The pipeline's window lengths and alignment.
#[derive(Debug, Clone)]
pub struct WindowPlan {
    /// (name, seconds) per window length.
    sizes: Vec<(String, i64)>,
    /// Index of the scored length.
    scoring: usize,
    /// Windows start at the epoch + this + a multiple of their length (the site's local midnight).
    align_s: i64,
    /// The site's AC limit from the pipeline (W); `None`: estimated per recomputed range.
    ac_limit_w: Option<f64>,
}

/// The most readings [`RecentReadings`] keeps.
pub const RECENT_MAX: usize = 200_000;

/// The readings of a pipeline's last recomputed span, from its end back over two of its longest windows: the
/// next batch's span usually lies within them, and they stand in for reading it back from the store when the
/// store holds exactly them there (one COUNT: they are stored readings, so equal counts mean the same set). A
/// reading stored by anyone else (another replica, a re-run) changes the count, and the span is read.
#[derive(Debug, Default)]
pub struct RecentReadings(std::sync::Mutex<Arc<Vec<Reading>>>);

impl RecentReadings {
    fn snapshot(&self) -> Arc<Vec<Reading>> {
        self.0.lock().map(|r| Arc::clone(&r)).unwrap_or_default()
    }

    /// Keeps the tail of `all` (in time order) that lies within `keep_s` of its last reading, at most
    /// [`RECENT_MAX`] readings (any part of a span will do: the count decides whether it is all of it).
    fn keep(&self, all: &[Reading], keep_s: i64) {
        let Some(last) = all.last() else { return };
        let since = last.ts - Duration::seconds(keep_s);
        let from = all.partition_point(|r| r.ts < since).max(all.len().saturating_sub(RECENT_MAX));
        let tail = all[from..].to_vec();
        if let Ok(mut recent) = self.0.lock() {
            *recent = Arc::new(tail);
        }
    }
}

/// Window starts touched by a batch, per window length index, and the batch's readings while they may stand in
/// for reading the touched span back.
#[derive(Debug, Clone)]
pub struct TouchedWindows {
    starts: BTreeSet<(usize, i64)>,
    /// Every reading this ingest stored, while each one was new (no duplicate) and there are at most
    /// [`HELD_MAX`]: with the pipeline's [`RecentReadings`], they stand in for reading the touched span back
    /// when the store holds no others there (always, for a whole file into a new store).
    held: Option<Vec<Reading>>,
}

/// The most readings an ingest keeps in hand for [`TouchedWindows`].
pub const HELD_MAX: usize = 2_000_000;

impl Default for TouchedWindows {
    fn default() -> Self {
        Self { starts: BTreeSet::new(), held: Some(Vec::new()) }
    }
}

impl TouchedWindows {
    /// Keeps a stored chunk's readings in hand (as the store holds them: microsecond times), or gives up keeping
    /// any when some were duplicates or there are too many.
    pub fn hold(&mut self, readings: &[Reading], all_new: bool) {
        let fits = self.held.as_ref().is_some_and(|h| h.len() + readings.len() <= HELD_MAX);
        match self.held.as_mut() {
            Some(held) if all_new && fits => held.extend(readings.iter().map(as_stored)),
            _ => self.held = None,
        }
    }

    /// Keeps no readings in hand from now on: the touched span is read back from the store if it is needed.
    pub fn forget_held(&mut self) {
        self.held = None;
    }
}

/// A reading as the store gives it back (its time to the microsecond).
fn as_stored(r: &Reading) -> Reading {
    Reading { ts: prognos_store::stored_timestamp(r.ts), ..r.clone() }
}

/// What [`update`] did.
#[derive(Debug, Clone, Default)]
pub struct WindowsDone {
    /// Feature rows stored.
    pub windows: u64,
    /// Of which scored.
    pub scored: u64,
    /// `model@version`, when scoring ran.
    pub scoring: Option<String>,
    /// Why scoring is off, when it is.
    pub scoring_off: Option<String>,
}

impl WindowPlan {
    /// From the pipeline's `[inverter.windows]` and timestamp zone (a fixed offset aligns windows on local
    /// midnight; UTC and named zones align on UTC midnight).
    pub fn new(src: &InverterSource) -> Result<Self, String> {
        let sizes: Vec<(String, i64)> = src
            .windows
            .sizes
            .iter()
            .map(|s| parse_duration_s(s).map(|n| (s.clone(), n)).ok_or_else(|| format!("window {s:?}")))
            .collect::<Result<_, _>>()?;
        let scoring = sizes.iter().position(|(s, _)| *s == src.windows.scoring).ok_or("scoring window")?;
        let align_s = match Zone::parse(&src.timestamp.timezone)? {
            Zone::Fixed(off) => -i64::from(off.local_minus_utc()),
            Zone::Named(_) => 0,
        };
        Ok(Self { sizes, scoring, align_s, ac_limit_w: src.windows.ac_limit_w })
    }

    /// How far back from its end a recomputed span's readings are kept ([`RecentReadings`]): two of the
    /// longest windows.
    fn kept_s(&self) -> i64 {
        2 * self.sizes.iter().map(|(_, len)| *len).max().unwrap_or(DAY_S)
    }

    fn start_of(&self, ts: i64, len: i64) -> i64 {
        (ts - self.align_s).div_euclid(len) * len + self.align_s
    }

    /// Marks the windows `readings` fall in.
    pub fn touch(&self, readings: &[Reading], touched: &mut TouchedWindows) {
        let mut last = i64::MIN;
        for r in readings {
            let t = r.ts.timestamp();
            if t == last {
                continue;
            }
            last = t;
            for (i, (_, len)) in self.sizes.iter().enumerate() {
                touched.starts.insert((i, self.start_of(t, *len)));
            }
        }
    }
}

fn at(s: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(s, 0).unwrap_or_default()
}

/// The site's readings in `[from, to)`, oldest first (then by inverter). What the pipeline already has of the
/// span, its [`RecentReadings`] and the batch's own (`held`), is the answer when the store holds as many there
/// (one COUNT: they are all stored readings, so equal counts mean the same set); otherwise the span is read.
async fn span_readings(
    p: &InverterPipeline,
    held: Option<Vec<Reading>>,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<Reading>, prognos_store::StoreError> {
    let site = p.site();
    let known = known_span(&p.recent.snapshot(), held.unwrap_or_default(), from, to);
    if p.store.count_readings_in_range(site, from, to).await? == known.len() as i64 {
        return Ok(known);
    }
    p.store.readings_in_range(site, from, to).await
}

/// The readings of `[from, to)` among `recent` and `held` (both stored readings), in time then inverter order,
/// each (inverter, instant) once.
fn known_span(recent: &[Reading], mut held: Vec<Reading>, from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<Reading> {
    let in_span = |r: &Reading| r.ts >= from && r.ts < to;
    held.retain(in_span);
    held.extend(recent.iter().filter(|r| in_span(r)).cloned());
    held.sort_by(|a, b| (a.ts, &a.asset).cmp(&(b.ts, &b.asset)));
    held.dedup_by(|a, b| a.ts == b.ts && a.asset == b.asset);
    held
}

/// One window length's features, computed.
struct Computed {
    /// Index into the plan's sizes.
    size: usize,
    /// The touched windows' rows (other windows of the recomputed range are left as stored).
    rows: Vec<InverterWindowRow>,
    /// The daily aggregates to store (whole-day lengths only).
    days: Vec<InverterDay>,
}

/// Per inverter, its last reading before `before`: the store's last before the span (`before_span`) moved on by
/// the span's readings (`all`, oldest first) before `before`.
fn last_readings_at(
    before_span: &HashMap<String, DateTime<Utc>>,
    all: &[Reading],
    before: DateTime<Utc>,
) -> HashMap<String, DateTime<Utc>> {
    let mut last = before_span.clone();
    for r in &all[..all.partition_point(|r| r.ts < before)] {
        last.insert(r.asset.clone(), r.ts);
    }
    last
}

/// What an update recomputes: per window length its touched starts and its range [first touched start, last
/// touched end), and the span of them all (the day range holds the hour range).
#[derive(Debug, Clone)]
struct Span {
    by_size: BTreeMap<usize, BTreeSet<i64>>,
    ranges: BTreeMap<usize, (i64, i64)>,
    from: i64,
    to: i64,
    /// The latest first start among the lengths: days before it are read from the store.
    latest_first: i64,
}

impl Span {
    fn of(plan: &WindowPlan, starts: &BTreeSet<(usize, i64)>) -> Option<Span> {
        let mut by_size: BTreeMap<usize, BTreeSet<i64>> = BTreeMap::new();
        for (i, s) in starts {
            by_size.entry(*i).or_default().insert(*s);
        }
        let ranges: BTreeMap<usize, (i64, i64)> = by_size
            .iter()
            .filter_map(|(i, starts)| Some((*i, (*starts.first()?, *starts.last()? + plan.sizes[*i].1))))
            .collect();
        let from = ranges.values().map(|r| r.0).min()?;
        let to = ranges.values().map(|r| r.1).max()?;
        let latest_first = ranges.values().map(|r| r.0).max().unwrap_or(from);
        Some(Span { by_size, ranges, from, to, latest_first })
    }
}

/// What came before a span, from the store: the slow features (degradation, peer trend) need every earlier day,
/// whose daily aggregates are kept, and gap_count each inverter's reading before the range. A batch recomputes
/// only what it touched and still gets what training got from the whole series.
struct Before {
    days: Vec<DailyPerformance>,
    last_before: HashMap<String, DateTime<Utc>>,
}

async fn before(store: &prognos_store::Store, site: &str, span: &Span) -> Result<Before, prognos_store::StoreError> {
    let (days, last_before) = tokio::try_join!(
        store.inverter_days_before(site, at(span.latest_first)),
        store.last_readings_before(site, at(span.from)),
    )?;
    let days = days
        .into_iter()
        .map(|d| DailyPerformance {
            asset: d.asset_id,
            day: d.day,
            ac_sum: d.ac_sum,
            expected_sum: d.expected_sum,
            peer_ac_sum: d.peer_ac_sum,
            peer_sum: d.peer_sum,
        })
        .collect();
    Ok(Before { days, last_before })
}

/// Recomputes, stores and (for the scoring length) scores every touched window. The span's readings and what
/// came before it are read together, every length is computed at once (each on a blocking thread), and the
/// unscored lengths are stored while the scoring length is scored.
pub async fn update(p: &InverterPipeline, plan: &WindowPlan, touched: TouchedWindows) -> Result<WindowsDone, String> {
    let TouchedWindows { starts, held } = touched;
    let Some(span) = Span::of(plan, &starts) else { return Ok(WindowsDone::default()) };
    let (all, before) =
        tokio::try_join!(span_readings(p, held, at(span.from), at(span.to)), before(&p.store, p.site(), &span))
            .map_err(|e| e.to_string())?;
    let all = Arc::new(all);
    p.recent.keep(&all, plan.kept_s());
    let computed = compute(plan, span, all, before).await?;
    store_computed(p, plan, computed).await
}

/// Windows computed ahead: a file's readings are all parsed long before they are all stored, so its windows are
/// computed from them (and what the pipeline holds of the span) while the store writes them. Once every chunk
/// is stored, [`finish_ahead`] uses the result if all of them were new and the store holds exactly the readings
/// it was computed from (one COUNT); otherwise the windows are computed again from the store, as [`update`] does.
pub struct Ahead {
    parsed: u64,
    span: (DateTime<Utc>, DateTime<Utc>),
    task: tokio::task::JoinHandle<Result<ComputedSpan, String>>,
}

/// A span's readings and the windows computed from them.
type ComputedSpan = (Arc<Vec<Reading>>, Vec<Computed>);

impl Drop for Ahead {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Starts computing the windows of `chunks` (every chunk of a file, parsed, being stored).
pub fn ahead(p: &InverterPipeline, plan: &WindowPlan, chunks: Vec<Arc<Vec<Reading>>>) -> Option<Ahead> {
    let mut touched = TouchedWindows::default();
    for c in &chunks {
        plan.touch(c, &mut touched);
    }
    let span = Span::of(plan, &touched.starts)?;
    let parsed = chunks.iter().map(|c| c.len() as u64).sum();
    let (from, to) = (at(span.from), at(span.to));
    let (store, site, plan_c, recent) = (p.store.clone(), p.site().to_string(), plan.clone(), p.recent.snapshot());
    let task = tokio::spawn(async move {
        let span_c = span.clone();
        let known = tokio::task::spawn_blocking(move || {
            let parsed = chunks.iter().flat_map(|c| c.iter().map(as_stored)).collect();
            known_span(&recent, parsed, from, to)
        });
        let (known, before) = tokio::join!(known, before(&store, &site, &span_c));
        let all = Arc::new(known.map_err(|e| e.to_string())?);
        let before = before.map_err(|e| e.to_string())?;
        let computed = compute(&plan_c, span, Arc::clone(&all), before).await?;
        Ok((all, computed))
    });
    Some(Ahead { parsed, span: (from, to), task })
}

/// Stores the windows computed [`ahead`] when they still hold (see [`Ahead`]), else recomputes as [`update`].
/// `inserted`: how many of the file's readings the store took as new (all of them stored and new means the
/// touched windows are the ones computed ahead).
pub async fn finish_ahead(
    p: &InverterPipeline,
    plan: &WindowPlan,
    mut ahead: Ahead,
    inserted: u64,
    touched: TouchedWindows,
) -> Result<WindowsDone, String> {
    if inserted == ahead.parsed {
        if let Ok(Ok((all, computed))) = (&mut ahead.task).await {
            let (from, to) = ahead.span;
            let count = p.store.count_readings_in_range(p.site(), from, to).await.map_err(|e| e.to_string())?;
            if count == all.len() as i64 {
                p.recent.keep(&all, plan.kept_s());
                return store_computed(p, plan, computed).await;
            }
        }
    }
    update(p, plan, touched).await
}

/// Computes every length of `span` from its readings `all` (in time order) and what came before.
async fn compute(
    plan: &WindowPlan,
    span: Span,
    all: Arc<Vec<Reading>>,
    before: Before,
) -> Result<Vec<Computed>, String> {
    let Span { by_size, ranges, .. } = span;
    let mut computing = Vec::with_capacity(by_size.len());
    for (i, starts) in by_size {
        let (first, end) = ranges[&i];
        // Each length takes the days before its own range (a day its readings cover is taken from them, so the
        // order lengths are stored in does not matter).
        let history = History {
            days: before.days.iter().filter(|d| d.day < at(first)).cloned().collect(),
            last_reading: last_readings_at(&before.last_before, &all, at(first)),
        };
        let spec = WindowSpec {
            window: Duration::seconds(plan.sizes[i].1),
            align_offset: Duration::seconds(plan.align_s),
            ac_limit_w: plan.ac_limit_w,
            ..WindowSpec::default()
        };
        let all = Arc::clone(&all);
        let whole_days = plan.sizes[i].1 % DAY_S == 0;
        computing.push(tokio::task::spawn_blocking(move || -> Result<Computed, String> {
            // `all` is in time order: the length's range is one slice of it.
            let (lo, hi) = (at(first), at(end));
            let range = &all[all.partition_point(|r| r.ts < lo)..all.partition_point(|r| r.ts < hi)];
            let (rows, days) = window_features_with_history(range, &spec, &history).map_err(|e| e.to_string())?;
            let rows = rows.into_iter().filter(|r| starts.contains(&r.window_start.timestamp())).collect();
            // Whole days only: a range of whole-day windows covers each of its days completely.
            let days = if whole_days {
                days.into_iter()
                    .map(|d| InverterDay {
                        asset_id: d.asset,
                        day: d.day,
                        ac_sum: d.ac_sum,
                        expected_sum: d.expected_sum,
                        peer_ac_sum: d.peer_ac_sum,
                        peer_sum: d.peer_sum,
                    })
                    .collect()
            } else {
                Vec::new()
            };
            Ok(Computed { size: i, rows, days })
        }));
    }
    let mut out = Vec::with_capacity(computing.len());
    for task in computing {
        out.push(task.await.map_err(|e| e.to_string())??);
    }
    Ok(out)
}

/// Stores computed windows and scores the scoring length: the other lengths are stored while it is scored.
async fn store_computed(
    p: &InverterPipeline,
    plan: &WindowPlan,
    computed: Vec<Computed>,
) -> Result<WindowsDone, String> {
    let mut done = WindowsDone::default();
    let mut unscored: (Vec<NewWindowRow>, Vec<InverterDay>) = (Vec::new(), Vec::new());
    let mut scoring: Option<Computed> = None;
    for c in computed {
        if c.size == plan.scoring {
            scoring = Some(c);
        } else {
            let set = format!("{FEATURE_SET}/{}", plan.sizes[c.size].0);
            unscored.0.extend(c.rows.into_iter().map(|r| window_row(r, &set, None)));
            unscored.1.extend(c.days);
        }
    }
    // The scoring length is scored while the other lengths are stored.
    let store_unscored = async {
        if unscored.0.is_empty() && unscored.1.is_empty() {
            return Ok(0);
        }
        p.store.record_windows(&unscored.0, p.site(), &unscored.1).await
    };
    let score_rows = async {
        match &scoring {
            Some(c) if !c.rows.is_empty() => {
                Some(score(p, &c.rows.iter().map(|r| r.values.as_slice()).collect::<Vec<_>>()).await)
            }
            _ => None,
        }
    };
    let (stored, scored) = tokio::join!(store_unscored, score_rows);
    done.windows += stored.map_err(|e| e.to_string())?;
    let Some(Computed { rows, days, .. }) = scoring else { return Ok(done) };
    let mut predictions: Vec<Option<Scored>> = vec![None; rows.len()];
    match scored {
        Some(Ok((model, scored))) => {
            done.scored += scored.len() as u64;
            done.scoring = Some(model);
            predictions = scored.into_iter().map(Some).collect();
        }
        Some(Err(reason)) => done.scoring_off = Some(reason),
        None => {}
    }
    let records: Vec<NewWindowRow> =
        rows.into_iter().zip(predictions).map(|(r, scored)| window_row(r, FEATURE_SET, scored)).collect();
    done.windows += p.store.record_windows(&records, p.site(), &days).await.map_err(|e| e.to_string())?;
    tell_alerts(p, &records).await;
    Ok(done)
}

/// A computed window as a stored feature row of `feature_set`, with its verdict when scored.
fn window_row(r: InverterWindowRow, feature_set: &str, scored: Option<Scored>) -> NewWindowRow {
    let (prediction, explanation) = match scored {
        Some(s) => (Some(s.prediction), s.explanation),
        None => (None, None),
    };
    NewWindowRow {
        asset_id: r.asset,
        feature_set: feature_set.to_string(),
        names: feature_names().iter().map(|s| s.to_string()).collect(),
        values: r.values,
        window_start: r.window_start,
        window_end: r.window_end,
        prediction,
        explanation,
    }
}

/// A window's verdict and the features that pulled it down most (when the model can explain).
#[derive(Debug, Clone)]
struct Scored {
    prediction: NewPrediction,
    explanation: Option<Vec<Contribution>>,
}

/// Scores rows of `inverter-v1` values with the pipeline's model, in the card's feature order.
async fn score(p: &InverterPipeline, rows: &[&[f64]]) -> Result<(String, Vec<Scored>), String> {
    let handle = p.models.resolve(&p.file.model.name).map_err(|e| format!("model {}: {e}", p.file.model.name))?;
    let card = Arc::clone(handle.card());
    let names = feature_names();
    let order: Vec<usize> = card
        .input
        .features
        .iter()
        .map(|f| {
            names
                .iter()
                .position(|n| *n == f.as_str())
                .ok_or_else(|| format!("model {} needs feature {f:?}", card.id()))
        })
        .collect::<Result<_, _>>()?;
    let mut values = Vec::with_capacity(rows.len() * order.len());
    for r in rows {
        values.extend(order.iter().map(|&j| r[j] as f32));
    }
    let (scores, drivers) = handle
        .score_explained(FeatureBatch { values, rows: rows.len() }, None, p.explain_top)
        .await
        .map_err(|e| format!("scoring: {e}"))?;
    let explained = handle.can_explain() && p.explain_top > 0;
    let now = Utc::now();
    let mut drivers = drivers.into_iter();
    let out = (0..rows.len())
        .map(|i| {
            let probabilities: Vec<(String, f64)> =
                card.output.classes.iter().cloned().zip(scores.row(i).iter().map(|&v| f64::from(v))).collect();
            let label =
                probabilities.iter().max_by(|a, b| a.1.total_cmp(&b.1)).map(|(c, _)| c.clone()).unwrap_or_default();
            let row_drivers = drivers.next().unwrap_or_default();
            let explanation = explained.then(|| crate::ingest::contributions(row_drivers));
            Scored {
                prediction: NewPrediction {
                    model: card.name.clone(),
                    model_version: card.version.clone(),
                    health_score: f64::from(scores.health(i)),
                    label,
                    probabilities,
                    scored_at: now,
                },
                explanation,
            }
        })
        .collect();
    Ok((card.id(), out))
}

/// Judges what a batch's scored windows show: each inverter's newest scored window by the health rule (with the
/// features that pulled it down), and every scored window's features that have a range rule, oldest first.
/// Stored first, judged after: a failure here is logged and counted, never loses the windows.
async fn tell_alerts(p: &InverterPipeline, records: &[NewWindowRow]) {
    let Some(engine) = &p.alerts else { return };
    let now = Utc::now();
    let mut newest: BTreeMap<&str, &NewWindowRow> = BTreeMap::new();
    for r in records.iter().filter(|r| r.prediction.is_some()) {
        let e = newest.entry(r.asset_id.as_str()).or_insert(r);
        if r.window_start > e.window_start {
            *e = r;
        }
    }
    for (asset, r) in newest {
        let Some(pred) = &r.prediction else { continue };
        let drivers: Vec<(String, f64)> =
            r.explanation.iter().flatten().map(|c| (c.feature.clone(), c.contribution)).collect();
        let model = format!("{}@{}", pred.model, pred.model_version);
        if let Err(e) =
            engine.observe_health_explained(p.name(), p.site(), asset, pred.health_score, &model, &drivers, now).await
        {
            metrics::counter!("prognos_alert_evaluation_errors_total").increment(1);
            tracing::error!(%asset, error = %e, "could not evaluate the health rule for an inverter window");
        }
    }
    let ruled: Vec<usize> = feature_names()
        .iter()
        .enumerate()
        .filter(|(_, n)| engine.config().ranges.iter().any(|r| r.metric == **n))
        .map(|(i, _)| i)
        .collect();
    if ruled.is_empty() {
        return;
    }
    let mut scored: Vec<&NewWindowRow> = records.iter().filter(|r| r.prediction.is_some()).collect();
    scored.sort_by_key(|r| r.window_start);
    let values: Vec<MetricValue<'_>> = scored
        .iter()
        .flat_map(|r| {
            ruled.iter().filter_map(move |&j| {
                let value = *r.values.get(j).filter(|v| v.is_finite())?;
                Some(MetricValue {
                    asset_id: &r.asset_id,
                    metric: feature_names()[j],
                    value,
                    at: r.window_end.min(now),
                })
            })
        })
        .collect();
    if let Err((failed, e)) = engine.observe_metrics(p.name(), p.site(), &values).await {
        metrics::counter!("prognos_alert_evaluation_errors_total").increment(failed as u64);
        tracing::error!(pipeline = p.name(), failed, error = %e, "could not judge window features");
    }
}
