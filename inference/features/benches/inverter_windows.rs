//! `inverter-v1` window features over a site the size of Kaggle Plant 1: 22 inverters x 3,126 quarter-hours
//! (68,772 readings, 34 days) with irradiance, ambient temperature and a clear-sky day shape.
//!
//! `cargo bench -p prognos-features --bench inverter_windows`
//!
//! - `inverter_windows/plant1_1d`: 1-day windows (748 rows), the training configuration.
//! - `inverter_windows/plant1_1h`: 1-hour windows (17,952 rows).
//! - `inverter_windows/one_day_live`: one day of the site (2,112 readings), as the live path recomputes it.
//!
//! Throughput is reported in readings; the ingest path targets 200,000 readings/s in total.

use std::hint::black_box;

use chrono::{Duration, TimeZone, Utc};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use prognos_features::inverter::{window_features, Metric, Reading, WindowSpec};

fn site(days: i64) -> Vec<Reading> {
    let t0 = Utc.with_ymd_and_hms(2020, 5, 15, 0, 0, 0).single().expect("valid time");
    let steps = days * 96 - 138 * days / 34; // a few missing quarter-hours, as in the real file
    let mut out = Vec::new();
    for k in 0..steps {
        let ts = t0 + Duration::minutes(15 * k);
        let hour = (k % 96) as f64 / 4.0;
        let sun = ((hour - 6.0) / 12.0 * std::f64::consts::PI).sin().max(0.0);
        let cloud = 0.8 + 0.2 * ((k as f64) * 0.37).sin();
        let irr = 1000.0 * sun * cloud;
        for i in 0..22 {
            let mut r = Reading::new(format!("inv{i:02}"), ts);
            let dc = irr * 13.0 * (1.0 + 0.01 * i as f64);
            r.set(Metric::DcPowerW, dc);
            r.set(Metric::AcPowerW, (dc * 0.977).min(12_000.0));
            r.set(Metric::IrradianceWM2, irr);
            r.set(Metric::AmbientTempC, 25.0 + 8.0 * sun);
            out.push(r);
        }
    }
    out
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("inverter_windows");
    let plant = site(34);
    group.throughput(Throughput::Elements(plant.len() as u64));
    let daily = WindowSpec::default();
    group.bench_function("plant1_1d", |b| b.iter(|| window_features(black_box(&plant), &daily).expect("features")));
    let hourly = WindowSpec { window: Duration::hours(1), ..WindowSpec::default() };
    group.bench_function("plant1_1h", |b| b.iter(|| window_features(black_box(&plant), &hourly).expect("features")));
    let day = site(1);
    group.throughput(Throughput::Elements(day.len() as u64));
    let live = WindowSpec { ac_limit_w: Some(12_000.0), ..WindowSpec::default() };
    group.bench_function("one_day_live", |b| b.iter(|| window_features(black_box(&day), &live).expect("features")));
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
