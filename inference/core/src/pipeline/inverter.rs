//! The `[inverter]` table of a `kind = "inverter-metrics"` pipeline: how one site's columns map onto the
//! canonical metrics, how its timestamps read, how its weather station joins, and which sources feed it.
//!
//! Everything site-specific lives here; the readers, the store and the sources have no per-site code.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::reading::Metric;

/// How one site's inverter readings are read and where they come from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InverterSource {
    /// The column holding each row's inverter id. Exactly one of `asset_column` and `asset` is set.
    #[serde(default)]
    pub asset_column: Option<String>,
    /// A fixed inverter id, for files that carry one inverter only (e.g. the NREL file).
    #[serde(default)]
    pub asset: Option<String>,
    /// How the timestamps read.
    pub timestamp: TimestampSpec,
    /// Source column -> canonical metric, with the unit scale.
    pub columns: Vec<ColumnMap>,
    /// Source columns that are known and deliberately not used (never reported as unknown).
    #[serde(default)]
    pub ignore: Vec<String>,
    /// What a column that is neither mapped nor ignored does: `report` (default: ignored, named once in the
    /// ingest report and the log) or `refuse` (the whole file or batch is refused, naming the column).
    #[serde(default)]
    pub unknown_columns: UnknownColumns,
    /// A reading more than this many seconds in the future (by the clock of the ingesting host) is rejected
    /// with reason `future_timestamp`. Default 300.
    #[serde(default = "default_future_tolerance_s")]
    pub future_tolerance_s: i64,
    /// The site's weather station, when it comes as a separate series (the Kaggle plants).
    #[serde(default)]
    pub weather: Option<WeatherSource>,
    /// Range rules: a reading with a value outside `[min, max]` is rejected with reason `out_of_range`.
    #[serde(default)]
    pub ranges: Vec<RangeRule>,
    /// The watched drop folder for CSV files (none: no folder is watched).
    #[serde(default)]
    pub drop_folder: Option<DropFolder>,
    /// The MQTT subscription (none: no subscription).
    #[serde(default)]
    pub mqtt: Option<MqttSource>,
    /// Feature windows and the one that is scored.
    #[serde(default)]
    pub windows: WindowSettings,
    /// Longest normal silence of the whole feed (every source of this pipeline), in seconds: longer raises a
    /// no-data alert (source `<pipeline>/feed`) when alerts are configured. 0 (the default): not watched.
    #[serde(default)]
    pub expected_interval_s: u64,
}

fn default_future_tolerance_s() -> i64 {
    300
}

/// What to do with a column that is neither mapped nor ignored.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UnknownColumns {
    /// Ignore it, and name it once in the report and the log.
    #[default]
    Report,
    /// Refuse the whole file or batch.
    Refuse,
}

/// Timestamp column, formats and time zone.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimestampSpec {
    /// The column (the NREL file's is the unnamed first column: `""`).
    pub column: String,
    /// chrono `strftime` formats tried in order, e.g. `["%d-%m-%Y %H:%M", "%Y-%m-%d %H:%M:%S"]`. `rfc3339`
    /// accepts RFC 3339 text with its own offset. Default `["rfc3339", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S"]`.
    #[serde(default = "default_formats")]
    pub formats: Vec<String>,
    /// The zone of timestamps without an offset: `UTC`, a fixed offset such as `+05:30`, or an IANA name such
    /// as `Asia/Kolkata`. Default `UTC`.
    #[serde(default = "default_timezone")]
    pub timezone: String,
}

fn default_formats() -> Vec<String> {
    vec!["rfc3339".into(), "%Y-%m-%d %H:%M:%S".into(), "%Y-%m-%dT%H:%M:%S".into()]
}

fn default_timezone() -> String {
    "UTC".into()
}

/// One source column mapped onto a canonical metric.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ColumnMap {
    /// The column name as the site writes it.
    pub source: String,
    /// The canonical metric it becomes.
    pub metric: Metric,
    /// Multiplier into the metric's SI unit (e.g. 1000 for kW -> W). Default 1.
    #[serde(default = "default_scale")]
    pub scale: f64,
    /// Added after scaling (e.g. -273.15 for K -> degC). Default 0.
    #[serde(default)]
    pub offset: f64,
    /// Whether a file without this column is refused (default true). An empty cell is always just "not
    /// reported".
    #[serde(default = "default_true")]
    pub required: bool,
}

fn default_scale() -> f64 {
    1.0
}

fn default_true() -> bool {
    true
}

/// A weather-station series joined onto every inverter of the site by timestamp.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WeatherSource {
    /// The weather CSV, read once when the pipeline starts. Relative paths are relative to the working
    /// directory.
    pub path: PathBuf,
    /// How its timestamps read (defaults as for the inverter rows).
    pub timestamp: TimestampSpec,
    /// Its columns (weather metrics only: `ambient_temp_c`, `module_temp_c`, `irradiance_w_m2`).
    pub columns: Vec<ColumnMap>,
    /// Its columns that are not used.
    #[serde(default)]
    pub ignore: Vec<String>,
    /// An inverter reading takes the nearest weather row within this many seconds; without one its weather
    /// metrics stay empty and the report counts `no_weather`. Default 450 (half of a 15-minute interval).
    #[serde(default = "default_join_tolerance_s")]
    pub tolerance_s: i64,
}

fn default_join_tolerance_s() -> i64 {
    450
}

/// A plausible range for one metric.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RangeRule {
    /// The metric.
    pub metric: Metric,
    /// Smallest accepted value.
    #[serde(default)]
    pub min: Option<f64>,
    /// Largest accepted value.
    #[serde(default)]
    pub max: Option<f64>,
}

/// A folder where CSV exports are dropped.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DropFolder {
    /// The folder watched for `*.csv` files (created when missing).
    pub path: PathBuf,
    /// Rescan interval in milliseconds. Default 500.
    #[serde(default = "default_rescan_ms")]
    pub rescan_ms: u64,
    /// A file counts as complete once its size and modification time are unchanged this long. Default 500 ms.
    #[serde(default = "default_settle_ms")]
    pub settle_ms: u64,
    /// Where ingested files go. Default `<data_dir>/archive/<pipeline>`.
    #[serde(default)]
    pub archive_dir: Option<PathBuf>,
    /// Where refused files go, each beside a `.reason` file. Default `<data_dir>/quarantine/<pipeline>`.
    #[serde(default)]
    pub quarantine_dir: Option<PathBuf>,
}

fn default_rescan_ms() -> u64 {
    500
}

fn default_settle_ms() -> u64 {
    500
}

/// An MQTT subscription. Each message is a JSON reading object or array of them, keyed by source column names.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MqttSource {
    /// Broker host. Default `127.0.0.1`.
    #[serde(default = "default_host")]
    pub host: String,
    /// Broker port. Default 1883.
    #[serde(default = "default_port")]
    pub port: u16,
    /// Topic filters to subscribe to (wildcards allowed).
    pub topics: Vec<String>,
    /// Client id. Default `prognos-<pipeline>`.
    #[serde(default)]
    pub client_id: Option<String>,
    /// Subscription QoS, 0 to 2. Default 1.
    #[serde(default = "default_qos")]
    pub qos: u8,
    /// Messages gathered into one stored batch for at most this many milliseconds. Default 20.
    #[serde(default = "default_linger_ms")]
    pub linger_ms: u64,
    /// Seconds between reconnect attempts after the broker went away. Default 1.
    #[serde(default = "default_reconnect_s")]
    pub reconnect_s: u64,
}

fn default_host() -> String {
    "127.0.0.1".into()
}
fn default_port() -> u16 {
    1883
}
fn default_qos() -> u8 {
    1
}
fn default_linger_ms() -> u64 {
    20
}
fn default_reconnect_s() -> u64 {
    1
}

/// Feature windows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WindowSettings {
    /// Window lengths computed and stored, e.g. `["1h", "1d"]` (`s`, `m`, `h`, `d` suffixes). Default both.
    #[serde(default = "default_windows")]
    pub sizes: Vec<String>,
    /// The window length that is scored (one of `sizes`). Default `1d`.
    #[serde(default = "default_scoring_window")]
    pub scoring: String,
    /// The site's inverter AC power limit in W, used by the clipping, load and daylight features. Set it to
    /// the value the model was trained with (`prognos simulate inverters` prints it and uses this one when set),
    /// so that live windows are computed as the training windows were. Unset: estimated from the readings of
    /// the windows being computed (the 99.9th percentile of AC power), which on a short range (an hour, a
    /// morning) is not the training value.
    #[serde(default)]
    pub ac_limit_w: Option<f64>,
}

impl Default for WindowSettings {
    fn default() -> Self {
        Self { sizes: default_windows(), scoring: default_scoring_window(), ac_limit_w: None }
    }
}

fn default_windows() -> Vec<String> {
    vec!["1h".into(), "1d".into()]
}

fn default_scoring_window() -> String {
    "1d".into()
}

/// Parses a duration such as `15m`, `1h`, `1d` or `90s` into seconds.
pub fn parse_duration_s(text: &str) -> Option<i64> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit())?;
    let (digits, unit) = text.split_at(split);
    let n: i64 = digits.parse().ok()?;
    let mult = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return None,
    };
    (n > 0).then_some(n * mult)
}

/// A semantic mistake in an `[inverter]` table: the reason (naming the key) and a piece of text to find it by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecMistake {
    /// Text that occurs on the offending line (a key or a quoted value), used to report the line.
    pub needle: String,
    /// What is wrong, naming the key.
    pub reason: String,
}

fn bad(needle: impl Into<String>, reason: impl Into<String>) -> SpecMistake {
    SpecMistake { needle: needle.into(), reason: reason.into() }
}

impl InverterSource {
    /// Checks what serde cannot: one asset source, known zones and formats, weather metrics only in the
    /// weather series, no column mapped twice, usable windows and ranges. The error names the key.
    pub fn validate(&self) -> Result<(), SpecMistake> {
        match (&self.asset_column, &self.asset) {
            (Some(_), Some(_)) => return Err(bad("asset", "[inverter] set either asset_column or asset, not both")),
            (None, None) => {
                return Err(bad("[inverter]", "[inverter] needs asset_column (a column of inverter ids) or asset"))
            }
            (None, Some(a)) if a.is_empty() => return Err(bad("asset", "[inverter] asset is empty")),
            _ => {}
        }
        check_timestamp("[inverter.timestamp]", &self.timestamp)?;
        if self.columns.is_empty() {
            return Err(bad("columns", "[inverter] columns is empty: map at least one source column"));
        }
        check_columns("[[inverter.columns]]", &self.columns, &self.ignore)?;
        if let Some(w) = &self.weather {
            check_timestamp("[inverter.weather.timestamp]", &w.timestamp)?;
            if w.columns.is_empty() {
                return Err(bad("[inverter.weather]", "[inverter.weather] columns is empty"));
            }
            check_columns("[[inverter.weather.columns]]", &w.columns, &w.ignore)?;
            if let Some(c) = w.columns.iter().find(|c| !c.metric.is_weather()) {
                return Err(bad(
                    format!("\"{}\"", c.metric),
                    format!(
                        "[[inverter.weather.columns]] source {:?}: metric {} is not a weather metric \
                         (ambient_temp_c, module_temp_c, irradiance_w_m2)",
                        c.source, c.metric
                    ),
                ));
            }
            if let Some(c) = self.columns.iter().find(|c| w.columns.iter().any(|x| x.metric == c.metric)) {
                return Err(bad(
                    format!("\"{}\"", c.metric),
                    format!(
                        "metric {} comes both from [[inverter.columns]] and [[inverter.weather.columns]]",
                        c.metric
                    ),
                ));
            }
            if w.tolerance_s < 0 {
                return Err(bad("tolerance_s", "[inverter.weather] tolerance_s must be >= 0"));
            }
        }
        if self.future_tolerance_s < 0 {
            return Err(bad("future_tolerance_s", "[inverter] future_tolerance_s must be >= 0"));
        }
        for r in &self.ranges {
            if let (Some(lo), Some(hi)) = (r.min, r.max) {
                if lo > hi {
                    return Err(bad(
                        format!("\"{}\"", r.metric),
                        format!("[[inverter.ranges]] metric {}: min {lo} is above max {hi}", r.metric),
                    ));
                }
            }
            if r.min.is_none() && r.max.is_none() {
                return Err(bad(
                    format!("\"{}\"", r.metric),
                    format!("[[inverter.ranges]] metric {}: set min, max or both", r.metric),
                ));
            }
        }
        if self.windows.sizes.is_empty() {
            return Err(bad("sizes", "[inverter.windows] sizes is empty"));
        }
        for s in &self.windows.sizes {
            if parse_duration_s(s).is_none() {
                return Err(bad(
                    format!("\"{s}\""),
                    format!("[inverter.windows] sizes: {s:?} is not a duration such as 15m, 1h or 1d"),
                ));
            }
        }
        if let Some(l) = self.windows.ac_limit_w {
            if !(l.is_finite() && l > 0.0) {
                return Err(bad(
                    "ac_limit_w",
                    format!("[inverter.windows] ac_limit_w must be a positive number of W, got {l}"),
                ));
            }
        }
        if !self.windows.sizes.contains(&self.windows.scoring) {
            return Err(bad(
                "scoring",
                format!(
                    "[inverter.windows] scoring {:?} is not one of sizes {:?}",
                    self.windows.scoring, self.windows.sizes
                ),
            ));
        }
        if let Some(m) = &self.mqtt {
            if m.topics.is_empty() {
                return Err(bad("topics", "[inverter.mqtt] topics is empty"));
            }
            if m.qos > 2 {
                return Err(bad("qos", format!("[inverter.mqtt] qos {} is not 0, 1 or 2", m.qos)));
            }
        }
        Ok(())
    }
}

fn check_timestamp(key: &str, t: &TimestampSpec) -> Result<(), SpecMistake> {
    if t.formats.is_empty() {
        return Err(bad("formats", format!("{key} formats is empty")));
    }
    for f in &t.formats {
        let quoted = format!("\"{f}\"");
        if f != "rfc3339" && !f.contains('%') {
            return Err(bad(quoted, format!("{key} formats: {f:?} is neither rfc3339 nor a strftime pattern")));
        }
        if f != "rfc3339" && chrono::format::StrftimeItems::new(f).any(|i| i == chrono::format::Item::Error) {
            return Err(bad(quoted, format!("{key} formats: {f:?} is not a valid strftime pattern")));
        }
    }
    if let Err(e) = Zone::parse(&t.timezone) {
        return Err(bad("timezone", format!("{key} timezone: {e}")));
    }
    Ok(())
}

fn check_columns(key: &str, columns: &[ColumnMap], ignore: &[String]) -> Result<(), SpecMistake> {
    for (i, c) in columns.iter().enumerate() {
        let quoted = format!("\"{}\"", c.source);
        if columns[..i].iter().any(|o| o.source == c.source) {
            return Err(bad(quoted, format!("{key} source {:?} is mapped twice", c.source)));
        }
        if columns[..i].iter().any(|o| o.metric == c.metric) {
            return Err(bad(quoted, format!("{key} metric {} is mapped from two columns", c.metric)));
        }
        if ignore.contains(&c.source) {
            return Err(bad(quoted, format!("{key} source {:?} is both mapped and in ignore", c.source)));
        }
        if !c.scale.is_finite() || c.scale == 0.0 || !c.offset.is_finite() {
            return Err(bad(
                quoted,
                format!("{key} source {:?}: scale must be finite and non-zero, offset finite", c.source),
            ));
        }
    }
    Ok(())
}

/// The zone of local timestamps: a fixed offset or an IANA zone (daylight saving applied).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Zone {
    /// A fixed offset (`UTC`, `+05:30`, `-07:00`).
    Fixed(chrono::FixedOffset),
    /// An IANA zone such as `Asia/Kolkata`.
    Named(chrono_tz::Tz),
}

impl Zone {
    /// Parses `UTC`, `Z`, `+HH:MM` / `-HH:MM` or an IANA name.
    pub fn parse(text: &str) -> Result<Zone, String> {
        let t = text.trim();
        if t.eq_ignore_ascii_case("utc") || t == "Z" {
            return Ok(Zone::Fixed(chrono::FixedOffset::east_opt(0).expect("zero offset")));
        }
        if let Some(rest) = t.strip_prefix('+').map(|r| (1, r)).or_else(|| t.strip_prefix('-').map(|r| (-1, r))) {
            let (sign, hm) = rest;
            let (h, m) = hm.split_once(':').unwrap_or((hm, "0"));
            let (Ok(h), Ok(m)) = (h.parse::<i32>(), m.parse::<i32>()) else {
                return Err(format!("{text:?} is not an offset such as +05:30"));
            };
            return chrono::FixedOffset::east_opt(sign * (h * 3600 + m * 60))
                .filter(|_| (0..60).contains(&m))
                .map(Zone::Fixed)
                .ok_or_else(|| format!("{text:?} is out of range for an offset"));
        }
        t.parse::<chrono_tz::Tz>()
            .map(Zone::Named)
            .map_err(|_| format!("{text:?} is neither UTC, an offset such as +05:30, nor an IANA zone name"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse() {
        assert_eq!(parse_duration_s("1h"), Some(3600));
        assert_eq!(parse_duration_s("15m"), Some(900));
        assert_eq!(parse_duration_s("1d"), Some(86_400));
        assert_eq!(parse_duration_s("0h"), None);
        assert_eq!(parse_duration_s("h"), None);
        assert_eq!(parse_duration_s("3w"), None);
    }
}
