//! One input's row checks: timestamp, asset, values (scale, NaN, not-a-number), negative irradiance, future
//! timestamps, range rules, duplicates within the input, the weather join, and the warnings (out of order,
//! counter reset, no weather). Shared by the CSV and JSON readers.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use prognos_core::pipeline::ColumnMap;
use prognos_core::{Metric, Reading};

use super::report::{ParseReport, Reason, Warning};
use super::timestamp::TimeParser;
use super::{FormatError, Mapping};

/// A cell as a reader found it.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Cell<'a> {
    /// Text (CSV, or a JSON string).
    Text(&'a str),
    /// A JSON number.
    Num(f64),
    /// Not there (empty CSV cell, JSON null or absent key).
    Empty,
}

/// Per-input state.
pub(crate) struct RowState {
    pub mapping: Arc<Mapping>,
    times: TimeParser,
    asset_ids: HashMap<String, u32>,
    asset_names: Vec<String>,
    /// Per asset: newest timestamp and the energy counter at the previous row.
    last: Vec<(Option<DateTime<Utc>>, Option<f64>)>,
    seen: HashSet<(u32, i64)>,
    future_limit: DateTime<Utc>,
    pub report: ParseReport,
}

impl RowState {
    pub fn new(mapping: Arc<Mapping>) -> Result<Self, FormatError> {
        let times = TimeParser::new(&mapping.source.timestamp)?;
        let future_limit = Duration::try_seconds(mapping.source.future_tolerance_s)
            .and_then(|d| Utc::now().checked_add_signed(d))
            .unwrap_or(DateTime::<Utc>::MAX_UTC);
        Ok(Self {
            mapping,
            times,
            asset_ids: HashMap::new(),
            asset_names: Vec::new(),
            last: Vec::new(),
            seen: HashSet::new(),
            future_limit,
            report: ParseReport::default(),
        })
    }

    /// Checks one row; `cells` gives each mapped column's cell in `source.columns` order.
    pub fn row<'a>(
        &mut self,
        row: u64,
        ts_text: Cell<'a>,
        asset_cell: Cell<'a>,
        cells: impl Iterator<Item = (&'a ColumnMap, Cell<'a>)>,
    ) -> Option<Reading> {
        self.report.rows += 1;
        let ts = match ts_text {
            Cell::Text(t) => match self.times.parse(t) {
                Ok(ts) => ts,
                Err(e) => {
                    self.report.reject(row, Reason::UnparseableTimestamp, || e);
                    return None;
                }
            },
            Cell::Num(n) => {
                self.report.reject(row, Reason::UnparseableTimestamp, || format!("timestamp {n} is not text"));
                return None;
            }
            Cell::Empty => {
                self.report.reject(row, Reason::UnparseableTimestamp, || "empty timestamp".into());
                return None;
            }
        };
        let asset = match (&self.mapping.source.asset, asset_cell) {
            (Some(fixed), _) => fixed.as_str(),
            (None, Cell::Text(t)) if !t.trim().is_empty() => t.trim(),
            (None, Cell::Num(_)) | (None, _) => {
                let col = self.mapping.source.asset_column.clone().unwrap_or_default();
                self.report.reject(row, Reason::MissingAsset, || format!("column {col:?} is empty or not text"));
                return None;
            }
        };
        let mut reading = Reading::new(String::new(), ts);
        for (col, cell) in cells {
            let raw = match cell {
                Cell::Empty => continue,
                Cell::Num(n) => n,
                Cell::Text(t) => {
                    let t = t.trim();
                    if t.is_empty() {
                        continue;
                    }
                    match t.parse::<f64>() {
                        Ok(v) => v,
                        Err(_) => {
                            self.report.reject(row, Reason::NotANumber, || {
                                format!("column {:?}: {t:?} is not a number", col.source)
                            });
                            return None;
                        }
                    }
                }
            };
            if !raw.is_finite() {
                self.report.reject(row, Reason::NanValue, || format!("column {:?} is {raw}", col.source));
                return None;
            }
            reading.values[col.metric.index()] = Some(raw * col.scale + col.offset);
        }
        if self.mapping.irradiance_mapped {
            if let Some(v) = reading.get(Metric::IrradianceWM2).filter(|v| *v < 0.0) {
                self.report.reject(row, Reason::NegativeIrradiance, || format!("irradiance {v} W/m2"));
                return None;
            }
        }
        if ts > self.future_limit {
            let limit = self.future_limit;
            self.report.reject(row, Reason::FutureTimestamp, || format!("{ts} is after {limit}"));
            return None;
        }
        for rule in &self.mapping.source.ranges {
            let Some(v) = reading.get(rule.metric) else { continue };
            if rule.min.is_some_and(|lo| v < lo) || rule.max.is_some_and(|hi| v > hi) {
                self.report.reject(row, Reason::OutOfRange, || {
                    format!("{} {v} outside [{:?}, {:?}]", rule.metric, rule.min, rule.max)
                });
                return None;
            }
        }
        let id = match self.asset_ids.get(asset) {
            Some(&id) => id,
            None => {
                let id = self.asset_names.len() as u32;
                self.asset_ids.insert(asset.to_string(), id);
                self.asset_names.push(asset.to_string());
                self.last.push((None, None));
                id
            }
        };
        if !self.seen.insert((id, ts.timestamp_micros())) {
            self.report.duplicates_in_input += 1;
            return None;
        }
        if let Some(weather) = &self.mapping.weather {
            match weather.at(ts) {
                Some(values) => {
                    for (metric, v) in values {
                        reading.values[metric.index()] = Some(v);
                    }
                }
                None => self.report.warn(Warning::NoWeather),
            }
        }
        let last = &mut self.last[id as usize];
        match last.0 {
            Some(prev) if ts < prev => self.report.warn(Warning::OutOfOrder),
            _ => last.0 = Some(ts),
        }
        if let Some(e) = reading.get(Metric::EnergyTotalWh) {
            if last.1.is_some_and(|prev| e < prev) {
                self.report.warn(Warning::CounterReset);
            }
            last.1 = Some(e);
        }
        reading.asset.push_str(&self.asset_names[id as usize]);
        self.report.parsed += 1;
        Some(reading)
    }

    /// The report, with a note when a weather series is joined but covers none of the rows.
    pub fn finish(mut self) -> ParseReport {
        if let Some(w) = &self.mapping.weather {
            let missing = self.report.warnings.get(&Warning::NoWeather).copied().unwrap_or(0);
            if missing > 0 && missing == self.report.parsed {
                self.report.notes.push(format!(
                    "the weather series ({}) does not overlap this input: {missing} readings have no weather",
                    w.span()
                ));
            }
        }
        self.report
    }
}
