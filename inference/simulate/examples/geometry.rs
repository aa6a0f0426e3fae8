//! Prints where the featurizer finds the tread on healthy simulated captures (a debugging aid).
//!
//! `cargo run --release -p prognos-simulate --example geometry [SEEDS]`

use chrono::{TimeZone, Utc};
use prognos_features::{featurize_with_geometry, Feature, Surface};
use prognos_formats::icon::{encode, Capture};
use prognos_simulate::{simulate, Encoding, WheelSpec};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let seeds: u64 = std::env::args().nth(1).and_then(|s| s.parse().ok()).unwrap_or(3);
    let at = Utc.with_ymd_and_hms(2026, 11, 22, 0, 0, 0).single().ok_or("time")?;
    for width in [1536, 2560] {
        for encoding in Encoding::ALL {
            for seed in 0..seeds {
                let mut spec = WheelSpec::healthy("W01", "Cam_01", at, 500 + seed);
                spec.width = width;
                spec.profiles = 300;
                spec.encoding = encoding;
                let (xml, dat) = encode(&simulate(&spec)?)?;
                let capture = Capture::from_bytes(&xml, dat)?;
                let surface = Surface::from_capture(&capture)?;
                let (v, g) = featurize_with_geometry(&surface)?;
                println!(
                    "{width} {encoding:?} seed {seed}: left {:.1} right {:.1} width_x {:.3} pitch {:.5} hubs {:?} tread_height {:.3} conicity {:.3}",
                    g.left_col, g.right_col, g.width_x, surface.x_pitch(), g.hub_bins, v[Feature::TreadHeight], v[Feature::Conicity]
                );
            }
        }
    }
    Ok(())
}
