//! What one simulated capture is: the wheel, its condition, and how the camera encodes it.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use prognos_formats::icon::Layout;

use crate::SimError;

/// The failure modes of `wheel-failure-modes.md`, each simulated at a continuous severity in [0, 1].
///
/// How each is simulated at severity s (sizes grow smoothly from nothing at 0):
///
/// | mode | height change at severity s | intensity |
/// |---|---|---|
/// | even wear | whole tread 4.5 s mm lower against the hub rim | unchanged |
/// | compression set | cos² trough in the central 55 % of the tread, 3 s mm deep, on every profile | band up to 30 s % darker |
/// | flat spot | chord cut 2.5 s mm deep across the full width (its length follows from the wheel radius) | patch 35 s % brighter |
/// | chunking | one pit 20 s mm across, 6 s mm deep, steep walls, plus two smaller ones; walls mostly missing | pits half as bright |
/// | cracks | seven cracks, each s x 10-30 mm long, 0.12 + 0.25 s mm wide, 1.5 s mm deep, partly missing | lines up to 70 % darker (full from s = 0.2) |
/// | debonding | over 0.24 + 0.36 s of the turn: bulge 2 s mm at one seam decaying over 5 mm, tread lifted 0.5 s mm | unchanged |
/// | blowout | bump 4 s mm high, 4 + 6 s mm radius, at a seam (60 %) or on the face | up to 45 s % darker |
/// | conical wear | tread lowered linearly from 0 at one edge to 3 s mm at the other | gradient of 30 s % across |
/// | abrasion | extra white height noise of 0.15 s mm on the tread | 30 s % duller |
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FailureMode {
    /// The whole tread drops in radius against the hub rim.
    EvenWear,
    /// Compression set / heat band: a shallow concave trough in the contact band, darker.
    CompressionSet,
    /// A dip across the full width over consecutive profiles, once per turn, glazed (brighter).
    FlatSpot,
    /// Sharp-edged pits with missing points on their walls, darker inside.
    Chunking,
    /// Narrow grooves and short lines of missing points; thin dark lines in intensity.
    Cracks,
    /// Bulge/step at the tread-hub seam over part of the turn; the radius varies with the angle.
    Debonding,
    /// A protrusion at the seam or on the tread face, darker.
    Blowout,
    /// The profile tilted across the width, with an intensity gradient.
    ConicalWear,
    /// More high-frequency height noise; duller intensity.
    Abrasion,
}

impl FailureMode {
    /// Every mode, in a fixed order.
    pub const ALL: [FailureMode; 9] = [
        FailureMode::EvenWear,
        FailureMode::CompressionSet,
        FailureMode::FlatSpot,
        FailureMode::Chunking,
        FailureMode::Cracks,
        FailureMode::Debonding,
        FailureMode::Blowout,
        FailureMode::ConicalWear,
        FailureMode::Abrasion,
    ];

    /// The label used in `labels.csv` and training CSVs (snake case).
    pub fn name(self) -> &'static str {
        match self {
            FailureMode::EvenWear => "even_wear",
            FailureMode::CompressionSet => "compression_set",
            FailureMode::FlatSpot => "flat_spot",
            FailureMode::Chunking => "chunking",
            FailureMode::Cracks => "cracks",
            FailureMode::Debonding => "debonding",
            FailureMode::Blowout => "blowout",
            FailureMode::ConicalWear => "conical_wear",
            FailureMode::Abrasion => "abrasion",
        }
    }
}

/// The label of a capture without a failure.
pub const HEALTHY: &str = "healthy";

impl fmt::Display for FailureMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for FailureMode {
    type Err = SimError;
    fn from_str(s: &str) -> Result<FailureMode, SimError> {
        FailureMode::ALL
            .into_iter()
            .find(|m| m.name().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| SimError::InvalidSpec(format!("unknown failure mode `{s}`")))
    }
}

/// How heights are stored in the capture.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Encoding {
    /// Calibrated WORD range with `<worldrangetraits>` (mm = (v-1)/65534 x span + lower r).
    WordWorld,
    /// Calibrated WORD range with world traits and `<genistreamtraits>` (Ranger3 firmware 3.0+).
    WordGeniStream,
    /// Calibrated FLOAT range, already millimetres, with world traits.
    FloatMm,
    /// Uncalibrated WORD range with `<sensorrangetraits>`: 1/16 sensor row (`scale z` 0.0625).
    WordSensor,
}

impl Encoding {
    /// Every encoding, in a fixed order.
    pub const ALL: [Encoding; 4] =
        [Encoding::WordWorld, Encoding::WordGeniStream, Encoding::FloatMm, Encoding::WordSensor];
}

/// The two wheel cameras the simulator knows, chosen by the capture width.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CameraModel {
    /// Ranger E / Ruler E style: up to 1536 columns, `Hi3D 1` component, `Intensity` plane, 110 mm view.
    RangerE,
    /// Ranger3 style: 2560 columns, `Ranger3Range` component, `Reflectance` plane, 130 mm view.
    Ranger3,
}

impl CameraModel {
    /// The model that produces captures of `width` columns (Ranger3 from 2048 columns up).
    pub fn for_width(width: usize) -> CameraModel {
        if width >= 2048 {
            CameraModel::Ranger3
        } else {
            CameraModel::RangerE
        }
    }

    /// Width of the field of view across the tread, in mm.
    pub fn field_of_view_mm(self) -> f32 {
        match self {
            CameraModel::RangerE => 110.0,
            CameraModel::Ranger3 => 130.0,
        }
    }

    /// The component name written in the `.xml`.
    pub fn component_name(self) -> &'static str {
        match self {
            CameraModel::RangerE => "Hi3D 1",
            CameraModel::Ranger3 => "Ranger3Range",
        }
    }
}

/// Narrowest capture the simulator makes (the wheel must fit in the view at a useful resolution).
pub const MIN_WIDTH: usize = 256;
/// Widest capture the simulator makes.
pub const MAX_WIDTH: usize = 8192;
/// Fewest profiles per capture.
pub const MIN_PROFILES: usize = 64;
/// Most profiles per capture.
pub const MAX_PROFILES: usize = 65_536;

/// One capture to simulate. The same spec always gives the same bytes.
#[derive(Debug, Clone, PartialEq)]
pub struct WheelSpec {
    /// Wheel id, e.g. `W07`.
    pub wheel_id: String,
    /// Camera name, e.g. `Cam_01`.
    pub camera: String,
    /// Capture time (in the file name and labels).
    pub captured_at: DateTime<Utc>,
    /// The failure and its severity in [0, 1] (0 invisible, 1 replace now); `None` = healthy.
    pub failure: Option<(FailureMode, f32)>,
    /// Range encoding.
    pub encoding: Encoding,
    /// `.dat` layout.
    pub layout: Layout,
    /// Columns per profile (1536 and 2560 are the real cameras' widths).
    pub width: usize,
    /// Profiles per capture (one full turn of the wheel).
    pub profiles: usize,
    /// Whether to add extended mark data (encoder value increasing per profile).
    pub with_mark: bool,
    /// Seed of every random choice in this capture.
    pub seed: u64,
}

impl WheelSpec {
    /// A healthy capture with common defaults (2560 x 600, WORD world, SUBCOMPONENT, with mark).
    pub fn healthy(wheel_id: &str, camera: &str, captured_at: DateTime<Utc>, seed: u64) -> WheelSpec {
        WheelSpec {
            wheel_id: wheel_id.to_string(),
            camera: camera.to_string(),
            captured_at,
            failure: None,
            encoding: Encoding::WordWorld,
            layout: Layout::Subcomponent,
            width: 2560,
            profiles: 600,
            with_mark: true,
            seed,
        }
    }

    /// The capture id and file stem: `<camera>_<YYYYMMDDTHHMMSSmmmZ>_<wheel>`.
    pub fn capture_id(&self) -> String {
        format!("{}_{}_{}", self.camera, self.captured_at.format("%Y%m%dT%H%M%S%3fZ"), self.wheel_id)
    }

    /// `healthy` or the failure mode's name.
    pub fn label(&self) -> &'static str {
        self.failure.map_or(HEALTHY, |(m, _)| m.name())
    }

    /// The severity (0 when healthy).
    pub fn severity(&self) -> f32 {
        self.failure.map_or(0.0, |(_, s)| s)
    }

    /// The camera model implied by the width.
    pub fn model(&self) -> CameraModel {
        CameraModel::for_width(self.width)
    }

    /// Checks the spec's ranges; every simulation starts with this.
    pub fn validate(&self) -> Result<(), SimError> {
        if !(MIN_WIDTH..=MAX_WIDTH).contains(&self.width) {
            return Err(SimError::InvalidSpec(format!("width {} outside {MIN_WIDTH}..={MAX_WIDTH}", self.width)));
        }
        if !(MIN_PROFILES..=MAX_PROFILES).contains(&self.profiles) {
            return Err(SimError::InvalidSpec(format!(
                "profiles {} outside {MIN_PROFILES}..={MAX_PROFILES}",
                self.profiles
            )));
        }
        if let Some((m, s)) = self.failure {
            if !(0.0..=1.0).contains(&s) {
                return Err(SimError::InvalidSpec(format!("severity {s} of {m} outside [0, 1]")));
            }
        }
        let safe = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if !safe(&self.camera) || !safe(&self.wheel_id) {
            return Err(SimError::InvalidSpec(format!(
                "camera `{}` and wheel `{}` must be non-empty [A-Za-z0-9_-]",
                self.camera, self.wheel_id
            )));
        }
        Ok(())
    }
}
