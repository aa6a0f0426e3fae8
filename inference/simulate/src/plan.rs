//! [`plan`]: a reproducible mix of capture specs (about 40 % healthy, the rest spread evenly over the
//! failure modes at uniform severity) across cameras, wheels, encodings, layouts and profile counts.

use std::ops::RangeInclusive;

use chrono::{DateTime, Duration, TimeZone, Utc};
use prognos_formats::icon::Layout;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::spec::{Encoding, FailureMode, WheelSpec, MAX_PROFILES, MIN_PROFILES};
use crate::SimError;

/// What [`plan`] mixes. The defaults suit training data: both real camera widths, every encoding and
/// layout, 300-1200 profiles, half the captures with mark data.
#[derive(Debug, Clone, PartialEq)]
pub struct PlanOptions {
    /// Share of healthy captures (0..=1).
    pub healthy_share: f32,
    /// Failure modes to spread the other captures over.
    pub modes: Vec<FailureMode>,
    /// Severity range of failing captures (uniform), within [0, 1].
    pub severity: (f32, f32),
    /// Cameras: folder/name and width in columns. Each capture picks one at random.
    pub cameras: Vec<(String, usize)>,
    /// Profiles per capture, uniform in this range.
    pub profiles: RangeInclusive<usize>,
    /// Range encodings, picked at random per capture.
    pub encodings: Vec<Encoding>,
    /// `.dat` layouts, picked at random per capture.
    pub layouts: Vec<Layout>,
    /// Share of captures with extended mark data.
    pub mark_share: f32,
    /// Number of wheels (`W01`..), assigned in turn.
    pub wheels: usize,
    /// Time of the first capture.
    pub start: DateTime<Utc>,
    /// Seconds between consecutive captures, uniform in this range.
    pub interval_s: (f32, f32),
}

impl Default for PlanOptions {
    fn default() -> PlanOptions {
        PlanOptions {
            healthy_share: 0.4,
            modes: FailureMode::ALL.to_vec(),
            severity: (0.0, 1.0),
            cameras: vec![("Cam_01".to_string(), 1536), ("Cam_02".to_string(), 2560)],
            profiles: 300..=1200,
            encodings: Encoding::ALL.to_vec(),
            layouts: vec![Layout::Subcomponent, Layout::Scan],
            mark_share: 0.5,
            wheels: 24,
            start: Utc.with_ymd_and_hms(2026, 11, 22, 0, 0, 0).single().unwrap_or_default(),
            interval_s: (3.0, 12.0),
        }
    }
}

impl PlanOptions {
    fn validate(&self) -> Result<(), SimError> {
        let bad = |m: String| Err(SimError::InvalidSpec(m));
        if !(0.0..=1.0).contains(&self.healthy_share) || !(0.0..=1.0).contains(&self.mark_share) {
            return bad("healthy_share and mark_share must lie in [0, 1]".into());
        }
        let (lo, hi) = self.severity;
        if !(0.0 <= lo && lo <= hi && hi <= 1.0) {
            return bad(format!("severity range {lo}..{hi} must lie in [0, 1]"));
        }
        if self.modes.is_empty() && self.healthy_share < 1.0 {
            return bad("no failure modes to plan".into());
        }
        if self.cameras.is_empty() || self.encodings.is_empty() || self.layouts.is_empty() {
            return bad("cameras, encodings and layouts must not be empty".into());
        }
        if self.wheels == 0 || self.wheels > 999 {
            return bad(format!("wheels {} outside 1..=999", self.wheels));
        }
        if self.profiles.is_empty() || *self.profiles.start() < MIN_PROFILES || *self.profiles.end() > MAX_PROFILES {
            return bad(format!("profiles {:?} outside {MIN_PROFILES}..={MAX_PROFILES}", self.profiles));
        }
        let (a, b) = self.interval_s;
        if !(0.001 <= a && a <= b && b <= 86_400.0) {
            return bad(format!("interval {a}..{b} s must lie in 0.001..=86400"));
        }
        Ok(())
    }
}

/// Plans `count` captures from `seed`: the same inputs always give the same specs.
///
/// Exactly `round(count x healthy_share)` captures are healthy; the rest cycle through `modes` (so every
/// mode gets its share) with severities drawn uniformly; the order is shuffled. Each spec has its own
/// seed, so any capture can be regenerated alone.
pub fn plan(seed: u64, count: usize, options: &PlanOptions) -> Result<Vec<WheelSpec>, SimError> {
    options.validate()?;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let healthy = (count as f32 * options.healthy_share).round() as usize;
    let mut modes: Vec<Option<FailureMode>> = (0..count)
        .map(|k| if k < healthy { None } else { Some(options.modes[(k - healthy) % options.modes.len().max(1)]) })
        .collect();
    modes.shuffle(&mut rng);
    let mut at = options.start;
    let mut specs = Vec::with_capacity(count);
    for (k, mode) in modes.into_iter().enumerate() {
        let (lo, hi) = options.severity;
        let failure = mode.map(|m| (m, lo + (hi - lo) * rng.random::<f32>()));
        let (camera, width) = options.cameras[rng.random_range(0..options.cameras.len())].clone();
        let spec = WheelSpec {
            wheel_id: format!("W{:02}", k % options.wheels + 1),
            camera,
            captured_at: at,
            failure,
            encoding: options.encodings[rng.random_range(0..options.encodings.len())],
            layout: options.layouts[rng.random_range(0..options.layouts.len())],
            width,
            profiles: rng.random_range(options.profiles.clone()),
            with_mark: rng.random::<f32>() < options.mark_share,
            seed: rng.random(),
        };
        spec.validate()?;
        specs.push(spec);
        let (a, b) = options.interval_s;
        let ms = (rng.random_range(a..=b) * 1000.0).round().max(1.0) as i64;
        at += Duration::milliseconds(ms);
    }
    Ok(specs)
}
