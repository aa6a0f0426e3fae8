//! [`simulate`]: a [`WheelSpec`] in, the owned capture the iCon writer takes out.

use prognos_formats::icon::{CaptureData, GeniStreamTraits, IntensityName, MarkValues, RangeTraits, RangeValues};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::condition::Condition;
use crate::render::{render, RangeEncoder, RangeOut};
use crate::scene::{Scene, RANGE_MM};
use crate::spec::{CameraModel, Encoding, WheelSpec};
use crate::SimError;

/// Hi3D range resolution: 1/16 sensor row per raw unit.
pub const SENSOR_SCALE_Z: f64 = 0.0625;
/// Encoder ticks per profile in the simulated mark data.
pub const TICKS_PER_PROFILE: i32 = 8;
/// Microseconds between profiles in the simulated mark data.
const PROFILE_PERIOD_US: i32 = 250;

/// Simulates one capture. The same spec (including its seed) always gives identical data.
///
/// Calibrated encodings store millimetres; the uncalibrated one stores 1/16 sensor rows of a sensor whose
/// rows and columns each span one column pitch on the wheel (square pixels).
pub fn simulate(spec: &WheelSpec) -> Result<CaptureData, SimError> {
    spec.validate()?;
    let mut rng = ChaCha8Rng::seed_from_u64(spec.seed);
    let scene = Scene::draw(spec, &mut rng);
    let cond = Condition::draw(spec.failure, &scene, &mut rng);
    let (lower_r, upper_r) = RANGE_MM;
    let word_scale = (upper_r - lower_r) / 65534.0;
    let encoder = match spec.encoding {
        Encoding::WordWorld | Encoding::WordGeniStream => {
            RangeEncoder::Word { scale: word_scale, offset: lower_r - word_scale }
        }
        Encoding::FloatMm => RangeEncoder::Float,
        Encoding::WordSensor => RangeEncoder::Word { scale: scene.pitch * SENSOR_SCALE_Z as f32, offset: lower_r },
    };
    let (range, intensity) = render(&scene, &cond, encoder, &mut rng);
    let range = match range {
        RangeOut::Word(v) => RangeValues::Word(v),
        RangeOut::Float(v) => RangeValues::Float(v),
    };
    let lower_x = f64::from(scene.lower_x);
    let upper_x = f64::from(scene.x(spec.width - 1));
    let world = RangeTraits::World { lower_x, upper_x, lower_r: f64::from(lower_r), upper_r: f64::from(upper_r) };
    let range_traits = match spec.encoding {
        Encoding::WordSensor => {
            let w = spec.width as f64;
            RangeTraits::Sensor {
                origin_x: 0.0,
                scale_x: 1.0,
                origin_z: 0.0,
                scale_z: SENSOR_SCALE_Z,
                fov_x: [lower_x - 8.0, upper_x + 8.0, lower_x, upper_x],
                fov_z: [0.0, 0.0, w * 0.4, w * 0.4],
            }
        }
        _ => world,
    };
    let genistream = (spec.encoding == Encoding::WordGeniStream).then(|| GeniStreamTraits {
        c_scale: f64::from(upper_r - lower_r) / 65534.0,
        c_offset: f64::from(lower_r) - f64::from(upper_r - lower_r) / 65534.0,
        a_scale: f64::from(scene.pitch),
        a_offset: lower_x,
        b_scale: Some(f64::from(scene.row_pitch)),
        missing: Some(true),
        missing_value: Some(0.0),
        unit: Some("millimeter".to_string()),
    });
    let mark = spec.with_mark.then(|| mark_data(spec.profiles, &mut rng));
    let intensity_name = match scene.model {
        CameraModel::Ranger3 => IntensityName::Reflectance,
        CameraModel::RangerE => IntensityName::Intensity,
    };
    Ok(CaptureData {
        layout: spec.layout,
        width: spec.width,
        profiles: spec.profiles,
        component_name: scene.model.component_name().to_string(),
        range,
        intensity: Some((intensity_name, intensity)),
        scatter: None,
        mark,
        range_traits: Some(range_traits),
        genistream,
    })
}

/// Extended mark data: encoder value increasing by [`TICKS_PER_PROFILE`], status with the enable and
/// encoder-A bits, sample and encoder-pulse timestamps (microseconds), scan id.
fn mark_data(profiles: usize, rng: &mut impl Rng) -> MarkValues {
    let encoder0: i32 = rng.random_range(0..1_000_000);
    let time0: i32 = rng.random_range(0..1_000_000_000);
    let status = (1 << 30) | (1 << 28);
    MarkValues::Extended(
        (0..profiles as i32)
            .map(|k| {
                let t = time0.wrapping_add(k.wrapping_mul(PROFILE_PERIOD_US));
                [encoder0 + k * TICKS_PER_PROFILE, status, t, t, k]
            })
            .collect(),
    )
}
