//! Exports for data scientists: `GET /v1/exports/{features,predictions,readings}.{csv,parquet}` with filters
//! (asset, site, from, to). Rows are read in keyset-paged chunks and streamed out chunk by chunk (a Parquet row
//! group per chunk), so an export of any size holds one chunk in memory. The features export is in the
//! training-data format: `training-data/wheels/*.csv` for wheel feature sets (the default `wheel-v1`),
//! `training-data/inverters/*.csv` for `feature_set=inverter-v1` (the scored daily windows; `inverter-v1/1h` for
//! the hourly ones).

use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Duration, SecondsFormat, Utc};
use futures_util::stream;
use prognos_core::Metric;
use prognos_core::Reading;
use prognos_features::inverter::{InverterCsvWriter, InverterWindowRow, LabelledWindow, FEATURE_NAMES};
use prognos_store::{CaptureFeaturesRow, ExportFilter, PredictionExportRow, Store, StoreError, WindowFeaturesRow};
use serde::Deserialize;

use crate::api_error::ApiError;
use crate::state::AppState;

mod parquet;

/// Rows per chunk read from the store.
pub const CHUNK: i64 = 5_000;
/// Readings are read one window of this length at a time.
const READINGS_WINDOW: i64 = 86_400;

/// Export filters.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExportQuery {
    /// Only this asset.
    pub asset: Option<String>,
    /// Only this site (required for readings).
    pub site: Option<String>,
    /// Observed at or after (RFC 3339; required for readings).
    pub from: Option<DateTime<Utc>>,
    /// Observed before (RFC 3339; required for readings).
    pub to: Option<DateTime<Utc>>,
    /// Feature set of the features export (default `wheel-v1`).
    pub feature_set: Option<String>,
}

impl ExportQuery {
    fn filter(&self) -> ExportFilter {
        ExportFilter { asset_id: self.asset.clone(), site: self.site.clone(), from: self.from, to: self.to }
    }
}

/// What a chunked export has read so far.
enum Cursor {
    Id(i64),
    Time(DateTime<Utc>),
    Done,
}

/// `GET /v1/exports/{file}`: `features`, `predictions` or `readings`, as `.csv` or `.parquet`.
pub async fn export(
    State(state): State<AppState>,
    Path(file): Path<String>,
    Query(q): Query<ExportQuery>,
) -> Result<Response, ApiError> {
    let invalid = |message: String| ApiError::Invalid { code: "invalid_export", message };
    if let (Some(from), Some(to)) = (q.from, q.to) {
        if from >= to {
            return Err(invalid("from must be before to".into()));
        }
    }
    let not_found = || {
        ApiError::NotFound(format!("no export {file:?}: use features, predictions or readings, as .csv or .parquet"))
    };
    let (name, format) = match file.rsplit_once('.') {
        Some((name, "csv")) => (name, Format::Csv),
        Some((name, "parquet")) => (name, Format::Parquet),
        _ => return Err(not_found()),
    };
    let kind = match name {
        "features" if q.feature_set.as_deref().is_some_and(|s| s.starts_with("inverter-")) => Kind::WindowFeatures,
        "features" => Kind::Features,
        "predictions" => Kind::Predictions,
        "readings" => {
            if q.site.is_none() || q.from.is_none() || q.to.is_none() {
                return Err(invalid(format!("{file} needs site, from and to")));
            }
            Kind::Readings
        }
        _ => return Err(not_found()),
    };
    let store = state.store.clone();
    let (body, content_type) = match format {
        Format::Csv => (csv_body(store, kind, q), "text/csv; charset=utf-8"),
        Format::Parquet => (parquet::body(store, kind, q), "application/vnd.apache.parquet"),
    };
    let mut resp = body.into_response();
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{file}\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(resp)
}

/// The output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Csv,
    Parquet,
}

/// Which export.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Wheel captures' feature rows (`training-data/wheels/` format).
    Features,
    /// Inverter window feature rows (`training-data/inverters/` format).
    WindowFeatures,
    Predictions,
    Readings,
}

/// Why an export stopped part way.
#[derive(Debug, thiserror::Error)]
enum ExportError {
    /// Reading the store failed.
    #[error("store: {0}")]
    Store(#[from] StoreError),
    /// Writing CSV failed.
    #[error("csv: {0}")]
    Csv(String),
    /// Writing Parquet failed.
    #[error("parquet: {0}")]
    Parquet(String),
    /// Rows of one export disagree on their columns.
    #[error("{0}")]
    Mixed(String),
}

/// One chunk of rows read from the store.
enum Rows {
    Features(Vec<CaptureFeaturesRow>),
    Windows(Vec<WindowFeaturesRow>),
    Predictions(Vec<PredictionExportRow>),
    Readings(Vec<Reading>),
}

/// Reads an export chunk by chunk: the rows, with the columns that vary by data (feature names, probability
/// classes) fixed by the first row and checked on every later one.
struct Reader {
    store: Store,
    kind: Kind,
    q: ExportQuery,
    cursor: Cursor,
    /// Feature names (features) or classes (predictions), from the first row.
    columns: Vec<String>,
    first: bool,
}

impl Reader {
    fn new(store: Store, kind: Kind, q: ExportQuery) -> Self {
        let cursor = match kind {
            Kind::Readings => Cursor::Time(q.from.unwrap_or_else(Utc::now)),
            _ => Cursor::Id(0),
        };
        Reader { store, kind, q, cursor, columns: Vec::new(), first: true }
    }

    /// The next chunk; `None` at the end. The first chunk may be empty (an empty export is just a header).
    async fn next(&mut self) -> Result<Option<Rows>, ExportError> {
        let (store, q) = (&self.store, &self.q);
        let more = |n: usize, last: Option<i64>| match last {
            Some(id) if n as i64 == CHUNK => Cursor::Id(id),
            _ => Cursor::Done,
        };
        let (rows, next) = match (self.kind, &self.cursor) {
            (_, Cursor::Done) => return Ok(None),
            (Kind::Features, Cursor::Id(after)) => {
                let set = q.feature_set.as_deref().unwrap_or("wheel-v1");
                let rows = store.export_capture_features(&q.filter(), set, *after, CHUNK).await?;
                if self.first {
                    self.columns = rows.first().map(|r| names(&r.features)).unwrap_or_default();
                }
                if let Some(r) = rows.iter().find(|r| names(&r.features) != self.columns) {
                    return Err(ExportError::Mixed(format!(
                        "capture {} has other {} features than the first row; export one feature set version at a time",
                        r.id, r.feature_set
                    )));
                }
                let next = more(rows.len(), rows.last().map(|r| r.id));
                (Rows::Features(rows), next)
            }
            (Kind::WindowFeatures, Cursor::Id(after)) => {
                let set = q.feature_set.as_deref().unwrap_or_default();
                let rows = store.export_window_features(&q.filter(), set, *after, CHUNK).await?;
                if let Some(r) = rows.iter().find(|r| r.features.iter().map(|(n, _)| n.as_str()).ne(FEATURE_NAMES)) {
                    return Err(ExportError::Mixed(format!(
                        "window row {} of {} does not hold the {set} features in order; export one feature set \
                         version at a time",
                        r.id, r.asset_id
                    )));
                }
                let next = more(rows.len(), rows.last().map(|r| r.id));
                (Rows::Windows(rows), next)
            }
            (Kind::Predictions, Cursor::Id(after)) => {
                let rows = store.export_predictions(&q.filter(), *after, CHUNK).await?;
                if self.first {
                    self.columns = rows.first().map(|r| names(&r.probabilities)).unwrap_or_default();
                }
                let next = more(rows.len(), rows.last().map(|r| r.id));
                (Rows::Predictions(rows), next)
            }
            (Kind::Readings, Cursor::Time(from)) => {
                let (site, to) = (q.site.as_deref().unwrap_or_default(), q.to.unwrap_or(*from));
                let end = (*from + Duration::seconds(READINGS_WINDOW)).min(to);
                let mut rows = store.readings_in_range(site, *from, end).await?;
                if let Some(asset) = q.asset.as_deref() {
                    rows.retain(|r| r.asset == asset);
                }
                (Rows::Readings(rows), if end >= to { Cursor::Done } else { Cursor::Time(end) })
            }
            // A cursor of the other kind cannot happen (each export starts with its own); end rather than loop.
            (_, Cursor::Id(_) | Cursor::Time(_)) => return Ok(None),
        };
        self.cursor = next;
        self.first = false;
        Ok(Some(rows))
    }
}

fn names(pairs: &[(String, f64)]) -> Vec<String> {
    pairs.iter().map(|(n, _)| n.clone()).collect()
}

/// The CSV export as a streamed body, one chunk of rows at a time.
fn csv_body(store: Store, kind: Kind, q: ExportQuery) -> Body {
    let site = q.site.clone().unwrap_or_default();
    let body = stream::unfold(Some((Reader::new(store, kind, q), true)), move |state| {
        let site = site.clone();
        async move {
            let (mut reader, first) = state?;
            let chunk = match reader.next().await {
                Ok(Some(rows)) => csv_chunk(&rows, &reader.columns, &site, first),
                Ok(None) => return None,
                Err(e) => Err(e),
            };
            match chunk {
                Ok(bytes) => Some((Ok::<Bytes, std::io::Error>(bytes), Some((reader, false)))),
                Err(e) => {
                    tracing::error!(error = %e, export = ?kind, "export failed part way; the response is cut short");
                    Some((Err(std::io::Error::other("export failed; see the service log")), None))
                }
            }
        }
    });
    Body::from_stream(body)
}

/// One chunk as CSV, with the header first when `first` (features and predictions take their column names from
/// the first row).
fn csv_chunk(rows: &Rows, columns: &[String], site: &str, first: bool) -> Result<Bytes, ExportError> {
    let mut w = csv::WriterBuilder::new().has_headers(false).from_writer(Vec::with_capacity(1 << 16));
    let csv_err = |e: csv::Error| ExportError::Csv(e.to_string());
    match rows {
        Rows::Features(rows) => {
            if first {
                let mut cols = vec!["capture_id", "captured_at", "camera", "wheel"];
                cols.extend(columns.iter().map(String::as_str));
                cols.extend(["label", "severity"]);
                w.write_record(&cols).map_err(csv_err)?;
            }
            for r in rows {
                let mut rec = vec![
                    capture_stem(&r.source),
                    r.captured_at.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
                    r.camera.clone(),
                    r.asset_id.clone(),
                ];
                rec.extend(r.features.iter().map(|(_, v)| number(*v)));
                // No ground truth is stored: label and severity stay empty for the data scientist to fill.
                rec.extend([String::new(), String::new()]);
                w.write_record(&rec).map_err(csv_err)?;
            }
        }
        Rows::Windows(rows) => {
            let feature_err = |e: prognos_features::inverter::FeatureError| ExportError::Csv(e.to_string());
            let buffer = Vec::with_capacity(1 << 16);
            let mut out = if first {
                InverterCsvWriter::new(buffer, "features.csv").map_err(feature_err)?
            } else {
                InverterCsvWriter::without_header(buffer, "features.csv")
            };
            for r in rows {
                out.write(&labelled_window(r)).map_err(feature_err)?;
            }
            return Ok(Bytes::from(out.finish().map_err(feature_err)?));
        }
        Rows::Predictions(rows) => {
            if first {
                let mut cols: Vec<String> = PREDICTION_COLUMNS.into_iter().map(String::from).collect();
                cols.extend(columns.iter().map(|c| format!("p_{c}")));
                w.write_record(&cols).map_err(csv_err)?;
            }
            for r in rows {
                let mut rec = vec![
                    r.id.to_string(),
                    r.asset_id.clone(),
                    r.site.clone(),
                    r.capture_id.map(|c| c.to_string()).unwrap_or_default(),
                    time(r.observed_at),
                    time(r.scored_at),
                    r.model.clone(),
                    r.model_version.clone(),
                    r.label.clone(),
                    number(r.health_score),
                ];
                rec.extend(columns.iter().map(|c| probability(r, c).map(number).unwrap_or_default()));
                w.write_record(&rec).map_err(csv_err)?;
            }
        }
        Rows::Readings(rows) => {
            if first {
                let mut cols = vec!["asset", "site", "ts"];
                cols.extend(Metric::ALL.iter().map(|m| m.as_str()));
                w.write_record(&cols).map_err(csv_err)?;
            }
            for r in rows {
                let mut rec = vec![r.asset.clone(), site.to_string(), time(r.ts)];
                rec.extend(r.values.iter().map(|v| v.map(number).unwrap_or_default()));
                w.write_record(&rec).map_err(csv_err)?;
            }
        }
    }
    let bytes = w.into_inner().map_err(|e| ExportError::Csv(e.to_string()))?;
    Ok(Bytes::from(bytes))
}

/// The predictions export's fixed columns (then `p_<class>` per class of the first row).
const PREDICTION_COLUMNS: [&str; 10] = [
    "prediction_id",
    "asset",
    "site",
    "capture_id",
    "observed_at",
    "scored_at",
    "model",
    "model_version",
    "label",
    "health_score",
];

/// A prediction's probability of `class`, if it has one.
fn probability(r: &PredictionExportRow, class: &str) -> Option<f64> {
    r.probabilities.iter().find(|(n, _)| n == class).map(|(_, p)| *p)
}

/// A capture's id in the training data: the file name of its stem path.
fn capture_stem(source: &str) -> String {
    std::path::Path::new(source).file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| source.into())
}

/// A stored window row as the training data writes it. No ground truth is stored: label and severity stay empty
/// for the data scientist to fill.
fn labelled_window(r: &WindowFeaturesRow) -> LabelledWindow {
    let row = InverterWindowRow {
        asset: r.asset_id.clone(),
        window_start: r.window_start,
        window_end: r.window_end,
        readings: r.readings as usize,
        values: r.features.iter().map(|(_, v)| *v).collect(),
    };
    LabelledWindow { site: r.site.clone(), row, label: None, severity: None, partial_hours: None }
}

fn time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// A value as CSV text: shortest round-trip form, `NaN` for missing feature values.
fn number(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else {
        v.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_round_trip() {
        assert_eq!(number(0.1), "0.1");
        assert_eq!(number(f64::NAN), "NaN");
        assert_eq!(number(97.0), "97");
    }
}
