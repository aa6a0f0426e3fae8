//! Runs featurize repeatedly on a simulated 2560 x 1000 capture, for profilers (`perf record`).
//!
//! `cargo run --release -p prognos-features --example profile_featurize [ITERATIONS] [word|float|sensor]`

use std::time::Instant;

use chrono::{TimeZone, Utc};
use prognos_features::{featurize, Surface};
use prognos_formats::icon::{encode, Capture};
use prognos_simulate::{simulate, Encoding, FailureMode, WheelSpec};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let n: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(200);
    let encoding = match args.get(2).map(String::as_str) {
        Some("float") => Encoding::FloatMm,
        Some("sensor") => Encoding::WordSensor,
        _ => Encoding::WordWorld,
    };
    let at = Utc.with_ymd_and_hms(2026, 11, 22, 0, 21, 30).single().ok_or("time")?;
    let mut spec = WheelSpec::healthy("W07", "Cam_02", at, 7);
    spec.failure = Some((FailureMode::Chunking, 0.5));
    spec.profiles = 1000;
    spec.encoding = encoding;
    let (xml, dat) = encode(&simulate(&spec)?)?;
    let bytes = dat.len();
    let capture = Capture::from_bytes(&xml, dat)?;
    let mut times = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        let surface = Surface::from_capture(&capture)?;
        std::hint::black_box(featurize(&surface)?);
        times.push(t.elapsed().as_secs_f64());
    }
    times.sort_by(f64::total_cmp);
    let median = times[times.len() / 2];
    println!(
        "{n} runs, median {:.3} ms, min {:.3} ms, {:.2} GB/s of .dat at the median",
        median * 1e3,
        times[0] * 1e3,
        bytes as f64 / median / 1e9
    );
    Ok(())
}
