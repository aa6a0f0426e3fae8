//! `prognos simulate wheels`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use prognos_formats::icon::write_pair;
use prognos_simulate::{capture_stem, run_wheels, simulate, FailureMode, WheelSpec, WheelsOptions};

/// Runs the wheel-capture simulator and prints what it wrote.
pub fn wheels(
    out: Option<PathBuf>,
    training_csv: Option<PathBuf>,
    count: usize,
    seed: u64,
    threads: usize,
) -> anyhow::Result<ExitCode> {
    let opts = WheelsOptions { out, training_csv, count, seed, threads, ..WheelsOptions::default() };
    let summary = run_wheels(&opts)?;
    if let Some(labels) = &summary.labels_csv {
        eprintln!(
            "prognos: wrote {} capture pairs ({} MB of .dat), labels in {}",
            summary.written,
            summary.dat_bytes / 1_000_000,
            labels.display()
        );
    }
    if let Some(csv) = &summary.training_csv {
        eprintln!("prognos: wrote {} feature rows to {}", summary.training_rows, csv.display());
    }
    let mix: Vec<String> = summary.by_label.iter().map(|(k, v)| format!("{k} {v}")).collect();
    eprintln!("prognos: {} captures (seed {seed}): {}", summary.captures, mix.join(", "));
    Ok(ExitCode::SUCCESS)
}

/// The wheel that degrades in the live feed, and how much each run adds to its flat spot.
const DEGRADING_WHEEL: &str = "W03";
const SEVERITY_PER_RUN: f32 = 0.04;

/// Writes a coaster run every `interval_ms`: each camera folder gets one pair per wheel, and `rfid.csv` one
/// read per wheel. Wheel W03 grows a flat spot run by run, so its health score falls through the threshold.
pub fn live(
    out: &Path,
    seed: u64,
    interval_ms: u64,
    wheels_per_camera: usize,
    runs: usize,
) -> anyhow::Result<ExitCode> {
    use std::io::Write;
    let cameras = ["Cam_01", "Cam_02"];
    let rfid_path = out.join("rfid.csv");
    for cam in cameras {
        std::fs::create_dir_all(out.join(cam))?;
    }
    let mut rfid = std::fs::OpenOptions::new().create(true).append(true).open(&rfid_path)?;
    eprintln!(
        "prognos: live feed into {} ({} wheels a run, every {} ms; {DEGRADING_WHEEL} degrades); Ctrl-C stops it",
        out.display(),
        wheels_per_camera * cameras.len(),
        interval_ms
    );
    let mut run = 0usize;
    loop {
        run += 1;
        let mut written = 0;
        for (c, camera) in cameras.iter().enumerate() {
            for w in 0..wheels_per_camera {
                let wheel = format!("W{:02}", c * wheels_per_camera + w + 1);
                let at = chrono::Utc::now();
                let mut spec =
                    WheelSpec::healthy(&wheel, camera, at, seed ^ ((run as u64) << 16) ^ (c * 64 + w) as u64);
                spec.profiles = 800;
                if wheel == DEGRADING_WHEEL {
                    let severity = (run as f32 * SEVERITY_PER_RUN).min(1.0);
                    spec.failure = Some((FailureMode::FlatSpot, severity));
                }
                writeln!(rfid, "{},{wheel}", at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))?;
                rfid.flush()?;
                let data = simulate(&spec)?;
                write_pair(&capture_stem(out, &spec), &data)?;
                written += 1;
            }
        }
        tracing::info!(run, captures = written, "coaster run written");
        if runs != 0 && run >= runs {
            return Ok(ExitCode::SUCCESS);
        }
        std::thread::sleep(std::time::Duration::from_millis(interval_ms));
    }
}
