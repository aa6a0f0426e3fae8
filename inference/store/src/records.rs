//! What the store takes in and gives back: new captures, feature rows and predictions, and the records read back.

use chrono::{DateTime, Utc};

/// Which engine a [`crate::Store`] runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Backend {
    /// SQLite: the embedded default (a file, or `sqlite::memory:`).
    Sqlite,
    /// PostgreSQL: for fleets and several replicas sharing one database.
    Postgres,
}

/// What [`crate::Store::record_scored_capture`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordOutcome {
    /// The capture was new; this is its id.
    Inserted(i64),
    /// A capture with the same content hash was already stored (its id); nothing was written.
    Duplicate(i64),
}

impl RecordOutcome {
    /// The capture id, new or existing.
    pub fn capture_id(self) -> i64 {
        match self {
            RecordOutcome::Inserted(id) | RecordOutcome::Duplicate(id) => id,
        }
    }
}

/// Kinds of asset: what an `assets.kind` column may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AssetKind {
    /// A roller-coaster wheel seen by a camera (id such as `W07`).
    Wheel,
    /// A solar inverter.
    Inverter,
}

impl AssetKind {
    /// The text stored in `assets.kind`.
    pub fn as_str(self) -> &'static str {
        match self {
            AssetKind::Wheel => "wheel",
            AssetKind::Inverter => "inverter",
        }
    }

    /// Parses the stored text.
    pub fn parse(text: &str) -> Option<AssetKind> {
        match text {
            "wheel" => Some(AssetKind::Wheel),
            "inverter" => Some(AssetKind::Inverter),
            _ => None,
        }
    }
}

/// A wheel capture to record. Its asset (a wheel) and site are created or updated with it.
#[derive(Debug, Clone, PartialEq)]
pub struct NewCapture {
    /// Hash of the capture's files; the dedupe key (unique in the store).
    pub content_hash: String,
    /// The site (e.g. one park or ride).
    pub site: String,
    /// The camera that took it (e.g. `Cam_01`).
    pub camera: String,
    /// The wheel it shows (e.g. `W07`).
    pub asset_id: String,
    /// The ride's run counter at capture time, when known.
    pub run_count: Option<i64>,
    /// When the camera took it (UTC); stored to the microsecond.
    pub captured_at: DateTime<Utc>,
    /// Where it came from (a path or URL), for tracing back.
    pub source: String,
    /// Points per profile.
    pub width: i64,
    /// Number of profiles.
    pub profiles: i64,
    /// Unit of the range values (`mm` or sensor units).
    pub height_units: String,
    /// Mean of the valid range values.
    pub mean_height: f64,
    /// Mean of the valid intensity values.
    pub mean_intensity: f64,
}

/// One feature row: a named feature set and its values in order.
#[derive(Debug, Clone, PartialEq)]
pub struct FeatureValues {
    /// The feature set's name (e.g. `wheel-v1`).
    pub feature_set: String,
    /// Feature names, in the model's order; non-empty and unique.
    pub names: Vec<String>,
    /// One value per name. Non-finite values are stored as JSON `null` and read back as NaN.
    pub values: Vec<f32>,
}

/// A model's verdict on one capture or window.
#[derive(Debug, Clone, PartialEq)]
pub struct NewPrediction {
    /// Model name.
    pub model: String,
    /// Model version.
    pub model_version: String,
    /// Health score, 0 to 100 (100 = healthy).
    pub health_score: f64,
    /// The predicted class.
    pub label: String,
    /// Class probabilities in the model card's class order; class names unique.
    pub probabilities: Vec<(String, f64)>,
    /// When it was scored (UTC); stored to the microsecond.
    pub scored_at: DateTime<Utc>,
}

/// A stored prediction.
#[derive(Debug, Clone, PartialEq)]
pub struct PredictionRecord {
    /// Prediction id.
    pub id: i64,
    /// The asset it is about.
    pub asset_id: String,
    /// The capture it scored, if it came from a capture.
    pub capture_id: Option<i64>,
    /// Model name.
    pub model: String,
    /// Model version.
    pub model_version: String,
    /// Health score, 0 to 100.
    pub health_score: f64,
    /// The predicted class.
    pub label: String,
    /// Class probabilities in the order they were recorded.
    pub probabilities: Vec<(String, f64)>,
    /// When it was scored.
    pub scored_at: DateTime<Utc>,
    /// When its input was observed (a capture's capture time, a window's end): the time axis of trends.
    pub observed_at: DateTime<Utc>,
    /// The features that pulled the score down most, most negative first; `None` when it was not explained.
    pub explanation: Option<Vec<Contribution>>,
}

/// One feature that pulled a prediction's health score down: with the feature at its training median instead
/// of `value`, the model scored `-contribution` points more.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Contribution {
    /// The feature's name.
    pub feature: String,
    /// Its value in the scored row (NaN when missing; stored as JSON `null`).
    #[serde(deserialize_with = "null_as_nan")]
    pub value: f64,
    /// The training median it was compared with.
    pub median: f64,
    /// Health as scored minus health with the feature at its median (negative: it pulled the score down).
    pub contribution: f64,
}

fn null_as_nan<'de, D: serde::Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    use serde::Deserialize;
    Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::NAN))
}

/// A stored capture.
#[derive(Debug, Clone, PartialEq)]
pub struct CaptureRecord {
    /// Capture id.
    pub id: i64,
    /// The capture as it was recorded (timestamps to the microsecond).
    pub capture: NewCapture,
    /// When the store recorded it.
    pub received_at: DateTime<Utc>,
}

/// A stored asset.
#[derive(Debug, Clone, PartialEq)]
pub struct AssetRecord {
    /// Asset id.
    pub id: String,
    /// Wheel or inverter.
    pub kind: AssetKind,
    /// The site it was last seen at.
    pub site: String,
    /// Earliest observation time recorded for it.
    pub first_seen: DateTime<Utc>,
    /// Latest observation time recorded for it.
    pub last_seen: DateTime<Utc>,
}

/// A quarantined input: something that could not be ingested, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuarantineRecord {
    /// Row id.
    pub id: i64,
    /// The input (a path or URL).
    pub source: String,
    /// Why it was set aside.
    pub reason: String,
    /// When.
    pub at: DateTime<Utc>,
}
