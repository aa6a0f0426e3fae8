//! Training rows without touching the disk: simulate, encode in memory, read back through the production
//! iCon reader ([`Capture::from_bytes`]) and featurize.

use prognos_features::{featurize, FeatureRow, Surface};
use prognos_formats::icon::{encode, Capture};

use crate::capture::simulate;
use crate::plan::{plan, PlanOptions};
use crate::spec::WheelSpec;
use crate::SimError;

/// The labelled feature row of one spec, through the exact bytes a camera folder would hold.
pub fn feature_row(spec: &WheelSpec) -> Result<FeatureRow, SimError> {
    let id = spec.capture_id();
    let icon = |source| SimError::Icon { capture_id: id.clone(), source };
    let data = simulate(spec)?;
    let (xml, dat) = encode(&data).map_err(icon)?;
    let capture = Capture::from_bytes(&xml, dat).map_err(icon)?;
    let feat = |source| SimError::Features { capture_id: id.clone(), source };
    let surface = Surface::from_capture(&capture).map_err(feat)?;
    let values = featurize(&surface).map_err(feat)?;
    Ok(FeatureRow::new(
        id.clone(),
        spec.captured_at,
        spec.camera.clone(),
        spec.wheel_id.clone(),
        &values,
        surface.units(),
    )
    .with_label(spec.label(), spec.severity()))
}

/// Labelled feature rows for [`plan`]`(seed, count, options)`, in plan order, on one thread.
pub fn training_rows(seed: u64, count: usize, options: &PlanOptions) -> Result<Vec<FeatureRow>, SimError> {
    rows_for(&plan(seed, count, options)?, 1)
}

/// Feature rows for `specs`, in order, computed on up to `threads` threads (same result for any count).
pub fn rows_for(specs: &[WheelSpec], threads: usize) -> Result<Vec<FeatureRow>, SimError> {
    let threads = threads.clamp(1, specs.len().max(1));
    if threads == 1 {
        return specs.iter().map(feature_row).collect();
    }
    let chunk = specs.len().div_ceil(threads);
    let parts: Vec<Result<Vec<FeatureRow>, SimError>> = std::thread::scope(|scope| {
        let handles: Vec<_> =
            specs.chunks(chunk).map(|part| scope.spawn(move || part.iter().map(feature_row).collect())).collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|_| Err(SimError::InvalidSpec("a featurizing thread panicked".into()))))
            .collect()
    });
    let mut rows = Vec::with_capacity(specs.len());
    for part in parts {
        rows.extend(part?);
    }
    Ok(rows)
}
