//! Prints the mean `wheel-v1` features of each failure mode at a few severities (a calibration aid).
//!
//! `cargo run --release -p prognos-simulate --example sweep [SEEDS] [WIDTH] [PROFILES]`

use chrono::{TimeZone, Utc};
use prognos_features::FEATURE_NAMES;
use prognos_simulate::{feature_row, Encoding, FailureMode, WheelSpec};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let seeds: u64 = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(3);
    let width: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(2560);
    let profiles: usize = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(600);
    let at = Utc.with_ymd_and_hms(2026, 11, 22, 0, 0, 0).single().ok_or("time")?;
    let mut cases: Vec<(String, Option<(FailureMode, f32)>)> = vec![("healthy".into(), None)];
    for m in FailureMode::ALL {
        for s in [0.3f32, 0.6, 1.0] {
            cases.push((format!("{m}@{s}"), Some((m, s))));
        }
    }
    print!("{:<22}", "case");
    for n in FEATURE_NAMES {
        print!(" {:>9}", &n[..n.len().min(9)]);
    }
    println!();
    for (name, failure) in cases {
        let mut sum = vec![0.0f32; FEATURE_NAMES.len()];
        for seed in 0..seeds {
            let mut spec = WheelSpec::healthy("W01", "Cam_01", at, seed);
            spec.failure = failure;
            spec.width = width;
            spec.profiles = profiles;
            spec.encoding = Encoding::ALL[seed as usize % 4];
            let row = feature_row(&spec)?;
            for (s, v) in sum.iter_mut().zip(&row.values) {
                *s += v / seeds as f32;
            }
        }
        print!("{name:<22}");
        for v in sum {
            print!(" {v:>9.4}");
        }
        println!();
    }
    Ok(())
}
