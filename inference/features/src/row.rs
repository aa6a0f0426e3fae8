//! [`FeatureRow`]: one capture's features with its identity and (for training data) its label.

use chrono::{DateTime, Utc};
use prognos_formats::icon::HeightUnits;

use crate::FeatureValues;

/// One row of a feature table: a capture's identity, its `wheel-v1` values and optional label.
#[derive(Debug, Clone, PartialEq)]
pub struct FeatureRow {
    /// Capture id (the file stem, e.g. `Cam_01_20261122T002130123Z_W07`).
    pub capture_id: String,
    /// When the capture was taken.
    pub captured_at: DateTime<Utc>,
    /// Camera name (e.g. `Cam_01`).
    pub camera: String,
    /// Wheel id (e.g. `W07`).
    pub wheel: String,
    /// Feature values in [`crate::FEATURE_NAMES`] order.
    pub values: Vec<f32>,
    /// Units the capture's heights were in (the values themselves are normalised, see [`crate::schema`]).
    pub units: HeightUnits,
    /// Known condition (`healthy` or a failure-mode name), for training data.
    pub label: Option<String>,
    /// Known severity in [0, 1] (0 for healthy), for training data.
    pub severity: Option<f32>,
}

impl FeatureRow {
    /// A row without label, from computed values.
    pub fn new(
        capture_id: impl Into<String>,
        captured_at: DateTime<Utc>,
        camera: impl Into<String>,
        wheel: impl Into<String>,
        values: &FeatureValues,
        units: HeightUnits,
    ) -> FeatureRow {
        FeatureRow {
            capture_id: capture_id.into(),
            captured_at,
            camera: camera.into(),
            wheel: wheel.into(),
            values: values.to_vec(),
            units,
            label: None,
            severity: None,
        }
    }

    /// The same row with a label and severity.
    pub fn with_label(mut self, label: impl Into<String>, severity: f32) -> FeatureRow {
        self.label = Some(label.into());
        self.severity = Some(severity);
        self
    }
}
