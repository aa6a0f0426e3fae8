//! A site's weather-station series (read once from its CSV) and the nearest-in-time join onto inverter rows.

use std::path::Path;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use prognos_core::pipeline::{InverterSource, TimestampSpec, UnknownColumns, WeatherSource, WindowSettings};
use prognos_core::Metric;

use super::report::ParseReport;
use super::{FormatError, Mapping};

/// Weather rows sorted by time.
#[derive(Debug, Clone, Default)]
pub struct WeatherSeries {
    times: Vec<i64>,
    values: Vec<Vec<(Metric, f64)>>,
    tolerance_s: i64,
}

impl WeatherSeries {
    /// Reads the weather CSV `spec` names (its path resolved against `base` when relative). Bad weather rows
    /// are rejected with reasons like inverter rows (a negative irradiance drops that weather row).
    pub fn load(spec: &WeatherSource, base: &Path) -> Result<(Self, ParseReport), FormatError> {
        let path = if spec.path.is_absolute() { spec.path.clone() } else { base.join(&spec.path) };
        let file = std::fs::File::open(&path)
            .map_err(|e| FormatError::Weather { path: path.display().to_string(), reason: e.to_string() })?;
        Self::read(spec, file)
            .map_err(|e| FormatError::Weather { path: path.display().to_string(), reason: e.to_string() })
    }

    /// Reads a weather CSV from any reader.
    pub fn read(spec: &WeatherSource, reader: impl std::io::Read) -> Result<(Self, ParseReport), FormatError> {
        let as_source = InverterSource {
            asset_column: None,
            asset: Some("weather".into()),
            timestamp: TimestampSpec { ..spec.timestamp.clone() },
            columns: spec.columns.clone(),
            ignore: spec.ignore.clone(),
            unknown_columns: UnknownColumns::Report,
            future_tolerance_s: i64::MAX / 4,
            weather: None,
            ranges: Vec::new(),
            drop_folder: None,
            mqtt: None,
            windows: WindowSettings::default(),
            expected_interval_s: 0,
        };
        let mapping = Arc::new(Mapping::new(&as_source, None)?);
        let mut rows = mapping.csv(reader)?;
        let mut points: Vec<(i64, Vec<(Metric, f64)>)> = Vec::new();
        loop {
            let chunk = rows.next_chunk(8192)?;
            if chunk.is_empty() {
                break;
            }
            for r in chunk {
                let vals: Vec<(Metric, f64)> = Metric::ALL.iter().filter_map(|m| r.get(*m).map(|v| (*m, v))).collect();
                points.push((r.ts.timestamp(), vals));
            }
        }
        points.sort_by_key(|p| p.0);
        let (times, values) = points.into_iter().unzip();
        Ok((Self { times, values, tolerance_s: spec.tolerance_s }, rows.finish()))
    }

    /// Number of weather rows.
    pub fn len(&self) -> usize {
        self.times.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.times.is_empty()
    }

    /// The nearest row's values within the tolerance.
    pub fn at(&self, ts: DateTime<Utc>) -> Option<impl Iterator<Item = (Metric, f64)> + '_> {
        let t = ts.timestamp();
        let i = self.times.partition_point(|&x| x < t);
        let best = [i.checked_sub(1), (i < self.times.len()).then_some(i)]
            .into_iter()
            .flatten()
            .min_by_key(|&j| (self.times[j] - t).abs())?;
        ((self.times[best] - t).abs() <= self.tolerance_s).then(|| self.values[best].iter().copied())
    }

    /// `first .. last` of the series, for messages.
    pub fn span(&self) -> String {
        match (self.times.first(), self.times.last()) {
            (Some(a), Some(b)) => {
                let f = |s: i64| DateTime::from_timestamp(s, 0).map(|t| t.to_rfc3339()).unwrap_or_default();
                format!("{} .. {}", f(*a), f(*b))
            }
            _ => "empty".into(),
        }
    }
}
