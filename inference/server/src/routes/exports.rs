//! Exports for data scientists: `GET /v1/exports/{features,predictions,readings}.csv` with filters (asset,
//! site, from, to). Rows are read in keyset-paged chunks and streamed out chunk by chunk, so an export of any size
//! holds one chunk in memory. The features export is in the training-data format: `training-data/wheels/*.csv`
//! for wheel feature sets (the default `wheel-v1`), `training-data/inverters/*.csv` for `feature_set=inverter-v1`
//! (the scored daily windows; `inverter-v1/1h` for the hourly ones).

use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Duration, SecondsFormat, Utc};
use futures_util::stream;
use prognos_core::Metric;
use prognos_features::inverter::{InverterCsvWriter, InverterWindowRow, LabelledWindow, FEATURE_NAMES};
use prognos_store::{ExportFilter, Store, StoreError};
use serde::Deserialize;

use crate::api_error::ApiError;
use crate::state::AppState;

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

/// `GET /v1/exports/{file}`: `features.csv`, `predictions.csv` or `readings.csv`.
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
    let kind = match file.as_str() {
        "features.csv" if q.feature_set.as_deref().is_some_and(|s| s.starts_with("inverter-")) => Kind::WindowFeatures,
        "features.csv" => Kind::Features,
        "predictions.csv" => Kind::Predictions,
        "readings.csv" => {
            if q.site.is_none() || q.from.is_none() || q.to.is_none() {
                return Err(invalid("readings.csv needs site, from and to".into()));
            }
            Kind::Readings
        }
        other => {
            return Err(ApiError::NotFound(format!(
                "no export {other:?}: use features.csv, predictions.csv or readings.csv"
            )))
        }
    };
    let store = state.store.clone();
    let start = match kind {
        Kind::Readings => Cursor::Time(q.from.unwrap_or_else(Utc::now)),
        _ => Cursor::Id(0),
    };
    let first = true;
    let body = stream::unfold(
        (store, q, start, first, Vec::<String>::new()),
        move |(store, q, cursor, first, header)| async move {
            let (chunk, next, header) = match next_chunk(&store, kind, &q, cursor, first, header).await {
                Ok(x) => x,
                Err(e) => {
                    tracing::error!(error = %e, export = ?kind, "export failed part way; the response is cut short");
                    return Some((
                        Err(std::io::Error::other("export failed; see the service log")),
                        (store, q, Cursor::Done, false, Vec::new()),
                    ));
                }
            };
            chunk.map(|bytes| (Ok::<Bytes, std::io::Error>(bytes), (store, q, next, false, header)))
        },
    );
    let mut resp = Body::from_stream(body).into_response();
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/csv; charset=utf-8"));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{file}\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(resp)
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

type Chunk = (Option<Bytes>, Cursor, Vec<String>);

/// Why an export stopped part way.
#[derive(Debug, thiserror::Error)]
enum ExportError {
    /// Reading the store failed.
    #[error("store: {0}")]
    Store(#[from] StoreError),
    /// Writing CSV failed.
    #[error("csv: {0}")]
    Csv(String),
    /// Rows of one export disagree on their columns.
    #[error("{0}")]
    Mixed(String),
}

/// Reads and formats the next chunk. `None` bytes end the stream. The header goes out with the first chunk
/// (features and predictions take their column names from the first row; an empty export is just a header).
async fn next_chunk(
    store: &Store,
    kind: Kind,
    q: &ExportQuery,
    cursor: Cursor,
    first: bool,
    mut header: Vec<String>,
) -> Result<Chunk, ExportError> {
    let mut w = csv::WriterBuilder::new().has_headers(false).from_writer(Vec::with_capacity(1 << 16));
    let csv_err = |e: csv::Error| ExportError::Csv(e.to_string());
    let next = match (kind, cursor) {
        (_, Cursor::Done) => return Ok((None, Cursor::Done, header)),
        (Kind::Features, Cursor::Id(after)) => {
            let set = q.feature_set.as_deref().unwrap_or("wheel-v1");
            let rows = store.export_capture_features(&q.filter(), set, after, CHUNK).await?;
            if first {
                header = rows.first().map(|r| r.features.iter().map(|(n, _)| n.clone()).collect()).unwrap_or_default();
                let mut cols = vec!["capture_id", "captured_at", "camera", "wheel"];
                cols.extend(header.iter().map(String::as_str));
                cols.extend(["label", "severity"]);
                w.write_record(&cols).map_err(csv_err)?;
            }
            for r in &rows {
                let names: Vec<&str> = r.features.iter().map(|(n, _)| n.as_str()).collect();
                if names != header.iter().map(String::as_str).collect::<Vec<_>>() {
                    return Err(ExportError::Mixed(format!(
                        "capture {} has other {} features than the first row; export one feature set version at a time",
                        r.id, r.feature_set
                    )));
                }
                let stem = std::path::Path::new(&r.source)
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_else(|| r.source.clone());
                let mut rec = vec![
                    stem,
                    r.captured_at.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
                    r.camera.clone(),
                    r.asset_id.clone(),
                ];
                rec.extend(r.features.iter().map(|(_, v)| number(*v)));
                // No ground truth is stored: label and severity stay empty for the data scientist to fill.
                rec.extend([String::new(), String::new()]);
                w.write_record(&rec).map_err(csv_err)?;
            }
            match rows.last() {
                Some(last) if rows.len() as i64 == CHUNK => Cursor::Id(last.id),
                _ => Cursor::Done,
            }
        }
        (Kind::WindowFeatures, Cursor::Id(after)) => {
            let set = q.feature_set.as_deref().unwrap_or_default();
            let rows = store.export_window_features(&q.filter(), set, after, CHUNK).await?;
            let feature_err = |e: prognos_features::inverter::FeatureError| ExportError::Csv(e.to_string());
            let buffer = Vec::with_capacity(1 << 16);
            let mut out = if first {
                InverterCsvWriter::new(buffer, "features.csv").map_err(feature_err)?
            } else {
                InverterCsvWriter::without_header(buffer, "features.csv")
            };
            for r in &rows {
                let names: Vec<&str> = r.features.iter().map(|(n, _)| n.as_str()).collect();
                if names != FEATURE_NAMES {
                    return Err(ExportError::Mixed(format!(
                        "window row {} of {} does not hold the {set} features in order; export one feature set \
                         version at a time",
                        r.id, r.asset_id
                    )));
                }
                let row = InverterWindowRow {
                    asset: r.asset_id.clone(),
                    window_start: r.window_start,
                    window_end: r.window_end,
                    readings: r.readings as usize,
                    values: r.features.iter().map(|(_, v)| *v).collect(),
                };
                // No ground truth is stored: label and severity stay empty for the data scientist to fill.
                let window =
                    LabelledWindow { site: r.site.clone(), row, label: None, severity: None, partial_hours: None };
                out.write(&window).map_err(feature_err)?;
            }
            let bytes = out.finish().map_err(feature_err)?;
            let next = match rows.last() {
                Some(last) if rows.len() as i64 == CHUNK => Cursor::Id(last.id),
                _ => Cursor::Done,
            };
            return Ok((Some(Bytes::from(bytes)), next, header));
        }
        (Kind::Predictions, Cursor::Id(after)) => {
            let rows = store.export_predictions(&q.filter(), after, CHUNK).await?;
            if first {
                header =
                    rows.first().map(|r| r.probabilities.iter().map(|(c, _)| c.clone()).collect()).unwrap_or_default();
                let mut cols: Vec<String> = [
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
                ]
                .into_iter()
                .map(String::from)
                .collect();
                cols.extend(header.iter().map(|c| format!("p_{c}")));
                w.write_record(&cols).map_err(csv_err)?;
            }
            for r in &rows {
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
                rec.extend(header.iter().map(|c| {
                    r.probabilities.iter().find(|(n, _)| n == c).map(|(_, p)| number(*p)).unwrap_or_default()
                }));
                w.write_record(&rec).map_err(csv_err)?;
            }
            match rows.last() {
                Some(last) if rows.len() as i64 == CHUNK => Cursor::Id(last.id),
                _ => Cursor::Done,
            }
        }
        (Kind::Readings, Cursor::Time(from)) => {
            let (site, to) = (q.site.as_deref().unwrap_or_default(), q.to.unwrap_or(from));
            if first {
                let mut cols = vec!["asset", "site", "ts"];
                cols.extend(Metric::ALL.iter().map(|m| m.as_str()));
                w.write_record(&cols).map_err(csv_err)?;
            }
            let end = (from + Duration::seconds(READINGS_WINDOW)).min(to);
            for r in store.readings_in_range(site, from, end).await? {
                if q.asset.as_deref().is_some_and(|a| a != r.asset) {
                    continue;
                }
                let mut rec = vec![r.asset.clone(), site.to_string(), time(r.ts)];
                rec.extend(r.values.iter().map(|v| v.map(number).unwrap_or_default()));
                w.write_record(&rec).map_err(csv_err)?;
            }
            if end >= to {
                Cursor::Done
            } else {
                Cursor::Time(end)
            }
        }
        // A cursor of the other kind cannot happen (each export starts with its own); end rather than loop.
        (_, Cursor::Id(_) | Cursor::Time(_)) => Cursor::Done,
    };
    let bytes = w.into_inner().map_err(|e| ExportError::Csv(e.to_string()))?;
    Ok((Some(Bytes::from(bytes)), next, header))
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
