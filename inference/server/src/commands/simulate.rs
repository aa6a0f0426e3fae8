//! `prognos simulate wheels` and `prognos simulate inverters`.

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

/// `prognos simulate inverters`: reads a site's real readings through its pipeline, injects seeded faults and
/// writes labelled `inverter-v1` windows (and, with `real_csv`, the un-injected windows without labels).
pub fn inverters(
    pipeline: &Path,
    inputs: &[PathBuf],
    seed: u64,
    training_csv: Option<PathBuf>,
    real_csv: Option<PathBuf>,
) -> anyhow::Result<ExitCode> {
    use anyhow::Context;
    use prognos_simulate::inverter::{real_windows, training_windows, write_training_csv, InvertersOptions};

    if training_csv.is_none() && real_csv.is_none() {
        anyhow::bail!("nothing to write: give --training-csv and/or --real-csv");
    }
    let readings = read_site(pipeline, inputs)?;
    let file = prognos_core::pipeline::PipelineFile::load(pipeline)?;
    let source = file.inverter.as_ref().context("not an inverter-metrics pipeline")?;
    let mut opts = InvertersOptions::new(file.pipeline.site.clone(), seed);
    opts.spec.align_offset = local_midnight_offset(&source.timestamp.timezone, &readings)?;
    opts.spec.ac_limit_w = source.windows.ac_limit_w;
    if let Some(path) = &training_csv {
        let (windows, faults, summary) = training_windows(&readings, &opts)?;
        write_training_csv(path, &windows)?;
        let mix: Vec<String> = summary.by_label.iter().map(|(k, v)| format!("{k} {v}")).collect();
        eprintln!(
            "prognos: wrote {} windows to {} ({} fault episodes, seed {seed}, AC limit {:.0} W; {} windows left out \
             because the real data already looked faulty): {}",
            summary.windows,
            path.display(),
            faults.len(),
            summary.ac_limit_w,
            summary.suspect_windows,
            mix.join(", ")
        );
    }
    if let Some(path) = &real_csv {
        let windows = real_windows(&readings, &opts)?;
        write_training_csv(path, &windows)?;
        eprintln!("prognos: wrote {} real (un-injected, unlabelled) windows to {}", windows.len(), path.display());
    }
    Ok(ExitCode::SUCCESS)
}

/// Every reading of `inputs` through `pipeline`'s mapping, with its weather joined (the weather path is
/// resolved against the working directory). Rejected rows are counted on stderr.
fn read_site(pipeline: &Path, inputs: &[PathBuf]) -> anyhow::Result<Vec<prognos_core::Reading>> {
    use anyhow::Context;
    use prognos_formats::inverter::{Mapping, WeatherSeries};
    use std::sync::Arc;

    let file = prognos_core::pipeline::PipelineFile::load(pipeline)?;
    let source = file.inverter.as_ref().context("not an inverter-metrics pipeline")?;
    let weather = match &source.weather {
        Some(w) => {
            let (series, report) = WeatherSeries::load(w, &std::env::current_dir()?)?;
            if report.rejected_total() > 0 {
                eprintln!("prognos: weather: {} rows rejected", report.rejected_total());
            }
            Some(Arc::new(series))
        }
        None => None,
    };
    let mapping = Arc::new(Mapping::new(source, weather)?);
    let mut readings = Vec::new();
    for input in inputs {
        let f = std::fs::File::open(input).with_context(|| format!("opening {}", input.display()))?;
        let mut rows = mapping.csv(std::io::BufReader::new(f)).with_context(|| input.display().to_string())?;
        loop {
            let chunk = rows.next_chunk(50_000)?;
            if chunk.is_empty() {
                break;
            }
            readings.extend(chunk);
        }
        let report = rows.finish();
        if report.rejected_total() > 0 {
            eprintln!("prognos: {}: {} rows rejected", input.display(), report.rejected_total());
        }
    }
    anyhow::ensure!(!readings.is_empty(), "no readings in {inputs:?}");
    Ok(readings)
}

/// The window alignment that puts window starts at the site's local midnight: minus the zone's UTC offset
/// (for a zone with daylight saving, its offset at the first reading).
fn local_midnight_offset(timezone: &str, readings: &[prognos_core::Reading]) -> anyhow::Result<chrono::Duration> {
    use chrono::{Offset, TimeZone};
    use prognos_core::pipeline::Zone;
    let seconds = match Zone::parse(timezone).map_err(anyhow::Error::msg)? {
        Zone::Fixed(off) => off.local_minus_utc(),
        Zone::Named(tz) => {
            let first = readings.iter().map(|r| r.ts).min().unwrap_or_default();
            tz.offset_from_utc_datetime(&first.naive_utc()).fix().local_minus_utc()
        }
    };
    Ok(chrono::Duration::seconds(-(seconds as i64)))
}
