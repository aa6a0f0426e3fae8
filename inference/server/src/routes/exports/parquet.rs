//! Parquet exports: the CSV exports' columns, typed. Times are UTC timestamps (microseconds), numbers 64-bit
//! floats, ids 64-bit integers, missing values nulls (an undefined inverter feature too; a wheel feature's NaN
//! stays NaN, as in the CSV). One row group per chunk of rows, written as it is read: the writer runs on a
//! blocking thread and hands its bytes to the response over a bounded channel, so memory stays at about a chunk.

use std::io::Write;

use axum::body::{Body, Bytes};
use chrono::{DateTime, Utc};
use futures_util::stream;
use polars::prelude::{Column, DataFrame, DataType, IntoColumn, NamedFrom, PolarsResult, Series, TimeUnit, TimeZone};
use polars_io::parquet::write::{BatchedWriter, ParquetCompression, ParquetWriter};
use prognos_core::Metric;
use prognos_features::inverter::FEATURE_NAMES;
use prognos_store::Store;
use tokio::sync::mpsc;

use super::PREDICTION_COLUMNS;
use super::{capture_stem, labelled_window, probability, ExportError, ExportQuery, Kind, Reader, Rows};

/// Bytes gathered before they are handed to the response.
const SEND_AT: usize = 1 << 16;

/// The export `kind` as a streamed Parquet body.
pub(super) fn body(store: Store, kind: Kind, q: ExportQuery) -> Body {
    let (tx, rx) = mpsc::channel::<Result<Bytes, std::io::Error>>(4);
    let runtime = tokio::runtime::Handle::current();
    tokio::task::spawn_blocking(move || {
        let site = q.site.clone().unwrap_or_default();
        let mut reader = Reader::new(store, kind, q);
        let sink = ChannelSink { tx: tx.clone(), buf: Vec::with_capacity(SEND_AT) };
        if let Err(e) = write_all(&runtime, &mut reader, &site, sink) {
            tracing::error!(error = %e, export = ?kind, "export failed part way; the response is cut short");
            // The client may be gone already; then there is no one to tell.
            let _ = tx.blocking_send(Err(std::io::Error::other("export failed; see the service log")));
        }
    });
    Body::from_stream(stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|item| (item, rx)) }))
}

/// Reads every chunk and writes it as a row group; the first chunk (maybe empty) fixes the schema.
fn write_all(
    runtime: &tokio::runtime::Handle,
    reader: &mut Reader,
    site: &str,
    sink: ChannelSink,
) -> Result<(), ExportError> {
    let parquet = |e: polars::prelude::PolarsError| ExportError::Parquet(e.to_string());
    let Some(first) = runtime.block_on(reader.next())? else { return Ok(()) };
    let mut frame = frame(&first, &reader.columns, site).map_err(parquet)?;
    let mut writer: BatchedWriter<ChannelSink> = ParquetWriter::new(sink)
        .with_compression(ParquetCompression::Zstd(None))
        .batched(frame.schema())
        .map_err(parquet)?;
    loop {
        if frame.height() > 0 {
            writer.write_batch(&frame).map_err(parquet)?;
        }
        let Some(rows) = runtime.block_on(reader.next())? else { break };
        frame = self::frame(&rows, &reader.columns, site).map_err(parquet)?;
    }
    writer.finish().map_err(parquet)?;
    // Dropping the writer drops the sink, which sends what it still holds (the footer).
    Ok(())
}

/// Bytes written by the Parquet writer, handed to the response `SEND_AT` at a time; the rest when dropped.
struct ChannelSink {
    tx: mpsc::Sender<Result<Bytes, std::io::Error>>,
    buf: Vec<u8>,
}

impl ChannelSink {
    fn send(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let bytes = Bytes::from(std::mem::replace(&mut self.buf, Vec::with_capacity(SEND_AT)));
        self.tx.blocking_send(Ok(bytes)).map_err(|_| std::io::Error::other("the client went away"))
    }
}

impl Write for ChannelSink {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= SEND_AT {
            self.send()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.send()
    }
}

impl Drop for ChannelSink {
    fn drop(&mut self) {
        // The footer, written by `finish`; a client that went away needs nothing more.
        let _ = self.send();
    }
}

/// Columns of one chunk.
#[derive(Default)]
struct Table(Vec<Column>);

impl Table {
    fn text(&mut self, name: &str, values: impl Iterator<Item = Option<String>>) {
        self.0.push(Column::new(name.into(), values.collect::<Vec<_>>()));
    }

    fn float(&mut self, name: &str, values: impl Iterator<Item = Option<f64>>) {
        self.0.push(Column::new(name.into(), values.collect::<Vec<_>>()));
    }

    fn int(&mut self, name: &str, values: impl Iterator<Item = Option<i64>>) {
        self.0.push(Column::new(name.into(), values.collect::<Vec<_>>()));
    }

    fn time(&mut self, name: &str, values: impl Iterator<Item = DateTime<Utc>>) -> PolarsResult<()> {
        let micros: Vec<i64> = values.map(|t| t.timestamp_micros()).collect();
        let utc = DataType::Datetime(TimeUnit::Microseconds, Some(TimeZone::UTC));
        self.0.push(Series::new(name.into(), micros).cast(&utc)?.into_column());
        Ok(())
    }

    fn frame(self, height: usize) -> PolarsResult<DataFrame> {
        DataFrame::new(height, self.0)
    }
}

/// One chunk as a frame with the CSV export's columns.
fn frame(rows: &Rows, columns: &[String], site: &str) -> PolarsResult<DataFrame> {
    let mut t = Table::default();
    let height = match rows {
        Rows::Features(rows) => {
            t.text("capture_id", rows.iter().map(|r| Some(capture_stem(&r.source))));
            t.time("captured_at", rows.iter().map(|r| r.captured_at))?;
            t.text("camera", rows.iter().map(|r| Some(r.camera.clone())));
            t.text("wheel", rows.iter().map(|r| Some(r.asset_id.clone())));
            for (i, name) in columns.iter().enumerate() {
                t.float(name, rows.iter().map(|r| r.features.get(i).map(|(_, v)| *v)));
            }
            t.text("label", rows.iter().map(|_| None));
            t.float("severity", rows.iter().map(|_| None));
            rows.len()
        }
        Rows::Windows(rows) => {
            let windows: Vec<_> = rows.iter().map(labelled_window).collect();
            t.text("window_id", windows.iter().map(|w| Some(w.window_id())));
            t.time("window_start", windows.iter().map(|w| w.row.window_start))?;
            t.time("window_end", windows.iter().map(|w| w.row.window_end))?;
            t.text("site", windows.iter().map(|w| Some(w.site.clone())));
            t.text("asset", windows.iter().map(|w| Some(w.row.asset.clone())));
            t.int("readings", windows.iter().map(|w| Some(w.row.readings as i64)));
            for (i, name) in FEATURE_NAMES.iter().enumerate() {
                t.float(name, windows.iter().map(|w| w.row.values.get(i).copied().filter(|v| v.is_finite())));
            }
            t.text("label", windows.iter().map(|_| None));
            t.float("severity", windows.iter().map(|_| None));
            rows.len()
        }
        Rows::Predictions(rows) => {
            let [id, asset, site_col, capture, observed, scored, model, version, label, health] = PREDICTION_COLUMNS;
            t.int(id, rows.iter().map(|r| Some(r.id)));
            t.text(asset, rows.iter().map(|r| Some(r.asset_id.clone())));
            t.text(site_col, rows.iter().map(|r| Some(r.site.clone())));
            t.int(capture, rows.iter().map(|r| r.capture_id));
            t.time(observed, rows.iter().map(|r| r.observed_at))?;
            t.time(scored, rows.iter().map(|r| r.scored_at))?;
            t.text(model, rows.iter().map(|r| Some(r.model.clone())));
            t.text(version, rows.iter().map(|r| Some(r.model_version.clone())));
            t.text(label, rows.iter().map(|r| Some(r.label.clone())));
            t.float(health, rows.iter().map(|r| Some(r.health_score)));
            for class in columns {
                t.float(&format!("p_{class}"), rows.iter().map(|r| probability(r, class)));
            }
            rows.len()
        }
        Rows::Readings(rows) => {
            t.text("asset", rows.iter().map(|r| Some(r.asset.clone())));
            t.text("site", rows.iter().map(|_| Some(site.to_string())));
            t.time("ts", rows.iter().map(|r| r.ts))?;
            for (i, metric) in Metric::ALL.iter().enumerate() {
                t.float(metric.as_str(), rows.iter().map(|r| r.values[i]));
            }
            rows.len()
        }
    };
    t.frame(height)
}
