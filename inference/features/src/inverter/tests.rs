//! Tests of `inverter-v1` on synthetic sites whose answers are known.

use chrono::{DateTime, Duration, TimeZone, Utc};

use super::schema::idx;
use super::*;

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2020, 5, 15, 0, 0, 0).unwrap()
}

/// Irradiance of a clear day at quarter-hour `k` (sun up 06:00-18:00 UTC).
fn irradiance(k: i64) -> f64 {
    let hour = (k % 96) as f64 / 4.0;
    1000.0 * ((hour - 6.0) / 12.0 * std::f64::consts::PI).sin().max(0.0)
}

/// `inverters` healthy inverters over `days` days, 15-minute readings, AC limit 10 kW, efficiency 0.97.
fn site(inverters: usize, days: i64) -> Vec<Reading> {
    let mut out = Vec::new();
    for k in 0..days * 96 {
        let irr = irradiance(k);
        for i in 0..inverters {
            let mut r = Reading::new(format!("inv{i}"), t0() + Duration::minutes(15 * k));
            let dc = irr * 9.0 * (1.0 + 0.002 * i as f64);
            r.set(Metric::DcPowerW, dc);
            r.set(Metric::AcPowerW, dc * 0.97);
            r.set(Metric::IrradianceWM2, irr);
            r.set(Metric::AmbientTempC, 25.0);
            out.push(r);
        }
    }
    out
}

fn spec() -> WindowSpec {
    WindowSpec { ac_limit_w: Some(10_000.0), ..WindowSpec::default() }
}

fn row<'a>(rows: &'a [InverterWindowRow], asset: &str, day: i64) -> &'a InverterWindowRow {
    rows.iter().find(|r| r.asset == asset && r.window_start == t0() + Duration::days(day)).unwrap()
}

#[test]
fn names_and_schema_agree() {
    assert_eq!(FEATURE_SET, "inverter-v1");
    assert_eq!(feature_names().len(), FEATURE_COUNT);
    assert_eq!(feature_names()[idx::PEER_TREND], "peer_trend_pct_per_day");
    let doc = include_str!("../../FEATURES.md");
    for name in feature_names() {
        assert!(doc.contains(&format!("`{name}`")), "FEATURES.md does not document {name}");
    }
}

#[test]
fn healthy_site_reads_healthy_and_rows_are_complete() {
    let rows = window_features(&site(5, 2), &spec()).unwrap();
    assert_eq!(rows.len(), 10);
    let r = row(&rows, "inv2", 1);
    assert_eq!(r.readings, 96);
    assert_eq!(r.window_end - r.window_start, Duration::days(1));
    let v = &r.values;
    assert!((v[idx::EFFICIENCY] - 0.97).abs() < 1e-9);
    assert!(v[idx::EFFICIENCY_VS_PEERS].abs() < 1e-9);
    assert!(v[idx::PEER_DEVIATION].abs() < 1e-3, "{}", v[idx::PEER_DEVIATION]);
    assert_eq!(v[idx::ZERO_OUTPUT_SHARE], 0.0);
    assert_eq!(v[idx::STALE_RUN_HOURS], 0.0);
    assert_eq!(v[idx::GAP_COUNT], 0.0);
    assert_eq!(v[idx::CLIPPING_SHARE], 0.0);
    assert!(v[idx::TEMP_RISE_AT_LOAD].is_nan(), "no inverter temperature in the source");
    assert!(v[idx::SPECIFIC_YIELD] > 0.8 && v[idx::SPECIFIC_YIELD] < 0.9);
    assert!(v[idx::DEGRADATION].is_nan(), "two days are too few");
}

#[test]
fn trip_stale_gap_clipping_and_heat_move_their_features() {
    let mut readings = site(5, 2);
    for r in readings.iter_mut().filter(|r| r.ts >= t0() + Duration::hours(34)) {
        let k = (r.ts - t0()).num_minutes() / 15;
        match r.asset.as_str() {
            // Trip 10:00-12:00 on day 1.
            "inv0" if k < 96 + 48 => {
                r.set(Metric::AcPowerW, 0.0);
                r.set(Metric::DcPowerW, 0.0);
            }
            // Logger frozen for 8 readings from 10:00.
            "inv1" if k < 96 + 48 => {
                r.set(Metric::AcPowerW, 1234.0);
                r.set(Metric::DcPowerW, 1300.0);
            }
            // Capped at 60 % of the limit.
            "inv3" => {
                let ac = r.get(Metric::AcPowerW).unwrap().min(6000.0);
                r.set(Metric::AcPowerW, ac);
            }
            _ => {}
        }
    }
    // A two-hour hole in inv2's data, and a hot inverter4.
    readings.retain(|r| !(r.asset == "inv2" && r.ts > t0() + Duration::hours(30) && r.ts < t0() + Duration::hours(32)));
    for r in readings.iter_mut().filter(|r| r.asset == "inv4") {
        let load = r.get(Metric::AcPowerW).unwrap() / 10_000.0;
        r.set(Metric::InverterTempC, 25.0 + 30.0 * load);
    }
    let rows = window_features(&readings, &spec()).unwrap();
    let v = |a: &str, d: i64, i: usize| row(&rows, a, d).values[i];
    assert!(v("inv0", 1, idx::ZERO_OUTPUT_SHARE) > 0.1);
    assert_eq!(v("inv0", 0, idx::ZERO_OUTPUT_SHARE), 0.0);
    assert!(v("inv0", 1, idx::PEER_DEVIATION) < -0.1);
    assert!(v("inv0", 0, idx::PEER_DEVIATION).abs() < 0.01, "0.4 % below the median inverter");
    assert!((v("inv1", 1, idx::STALE_RUN_HOURS) - 1.75).abs() < 1e-9);
    assert_eq!(v("inv2", 1, idx::GAP_COUNT), 1.0);
    assert_eq!(row(&rows, "inv2", 1).readings, 96 - 7);
    assert!(v("inv3", 1, idx::CLIPPING_SHARE) == 0.0, "60 % is a cap, not the limit");
    let rise = v("inv4", 1, idx::TEMP_RISE_AT_LOAD);
    assert!(rise > 9.0 && rise < 30.0, "{rise}");
    assert!(v("inv3", 1, idx::TEMP_RISE_AT_LOAD).is_nan());
}

#[test]
fn clipping_at_the_limit_counts() {
    let mut readings = site(4, 1);
    for r in &mut readings {
        let ac = r.get(Metric::AcPowerW).unwrap().min(7000.0);
        r.set(Metric::AcPowerW, ac);
    }
    let rows = window_features(&readings, &WindowSpec { ac_limit_w: Some(7000.0), ..WindowSpec::default() }).unwrap();
    assert!(rows[0].values[idx::CLIPPING_SHARE] > 0.2);
    assert!(rows[0].values[idx::CLIPPING_SHARE] <= 1.0);
}

#[test]
fn order_does_not_matter_and_partial_windows_are_defined() {
    let readings = site(4, 2);
    let mut shuffled = readings.clone();
    shuffled.reverse();
    shuffled.swap(3, 500);
    let a = window_features(&readings, &spec()).unwrap();
    let b = window_features(&shuffled, &spec()).unwrap();
    assert_eq!(format!("{a:?}"), format!("{b:?}"), "NaN-aware equality through Debug");

    let morning: Vec<Reading> = readings.into_iter().filter(|r| r.ts < t0() + Duration::hours(10)).collect();
    let rows = window_features(&morning, &spec()).unwrap();
    assert_eq!(rows.len(), 4);
    assert_eq!(rows[0].readings, 40);
    assert!((rows[0].values[idx::EFFICIENCY] - 0.97).abs() < 1e-9);
    assert!(rows[0].values[idx::PEER_DEVIATION].is_finite());
}

#[test]
fn hourly_night_windows_are_nan_where_undefined() {
    let rows = window_features(&site(3, 1), &WindowSpec { window: Duration::hours(1), ..spec() }).unwrap();
    assert_eq!(rows.len(), 3 * 24);
    let night = &rows[2].values;
    assert!(night[idx::EFFICIENCY].is_nan() && night[idx::ZERO_OUTPUT_SHARE].is_nan());
    assert_eq!(night[idx::GAP_COUNT], 0.0);
    let noon = &rows[12].values;
    assert!((noon[idx::EFFICIENCY] - 0.97).abs() < 1e-9);
}

#[test]
fn single_inverter_has_no_peers_and_empty_input_no_rows() {
    let rows = window_features(&site(1, 1), &spec()).unwrap();
    assert!(rows[0].values[idx::PEER_DEVIATION].is_nan());
    assert!(rows[0].values[idx::EFFICIENCY_VS_PEERS].is_nan());
    assert!(window_features(&[], &spec()).unwrap().is_empty());
    let bad = WindowSpec { window: Duration::zero(), ..spec() };
    assert!(window_features(&site(1, 1), &bad).is_err());
}

#[test]
fn soiling_shows_in_the_peer_trend_and_degradation() {
    let mut readings = site(5, 20);
    for r in readings.iter_mut().filter(|r| r.asset == "inv0") {
        let days = (r.ts - t0()).num_minutes() as f64 / 1440.0;
        let f = 1.0 - 0.01 * days;
        r.set(Metric::AcPowerW, r.get(Metric::AcPowerW).unwrap() * f);
        r.set(Metric::DcPowerW, r.get(Metric::DcPowerW).unwrap() * f);
    }
    let rows = window_features(&readings, &spec()).unwrap();
    let last = row(&rows, "inv0", 19);
    assert!((last.values[idx::PEER_TREND] + 1.0).abs() < 0.1, "{}", last.values[idx::PEER_TREND]);
    assert!(last.values[idx::DEGRADATION] < -100.0, "-1 %/day is about -365 %/yr: {}", last.values[idx::DEGRADATION]);
    let peer = row(&rows, "inv3", 19);
    assert!(peer.values[idx::PEER_TREND].abs() < 0.1);
    assert!(peer.values[idx::DEGRADATION].abs() < 1.0);
}

#[test]
fn a_range_with_the_earlier_days_as_history_gives_the_whole_series_rows() {
    let mut readings = site(5, 20);
    for r in readings.iter_mut().filter(|r| r.asset == "inv0") {
        let f = 1.0 - 0.01 * (r.ts - t0()).num_minutes() as f64 / 1440.0;
        r.set(Metric::AcPowerW, r.get(Metric::AcPowerW).unwrap() * f);
    }
    // inv1 lost its link from 23:00 on day 15 to 01:00 on day 16: a gap a range from day 16 alone cannot see.
    let split = t0() + Duration::days(16);
    readings
        .retain(|r| !(r.asset == "inv1" && r.ts >= split - Duration::hours(1) && r.ts < split + Duration::hours(1)));
    let whole = window_features(&readings, &spec()).unwrap();
    // The live path: days 0-15 were computed earlier (their daily aggregates kept), days 16-19 now.
    let (before, after): (Vec<Reading>, Vec<Reading>) = readings.into_iter().partition(|r| r.ts < split);
    let (_, days) = window_features_with_history(&before, &spec(), &History::default()).unwrap();
    assert_eq!(days.len(), 5 * 16, "one aggregate per inverter and day");
    let last_reading = ["inv0", "inv1", "inv2", "inv3", "inv4"]
        .iter()
        .map(|a| (a.to_string(), before.iter().filter(|r| r.asset == *a).map(|r| r.ts).max().unwrap()))
        .collect();
    let history = History { days, last_reading };
    let (late, days) = window_features_with_history(&after, &spec(), &history).unwrap();
    assert_eq!(row(&late, "inv1", 16).values[idx::GAP_COUNT], 1.0, "the gap across midnight");
    assert_eq!(days.len(), 5 * 4, "the aggregates of the days the range covers");
    let expected: Vec<&InverterWindowRow> = whole.iter().filter(|r| r.window_start >= split).collect();
    assert_eq!(late.len(), expected.len());
    for (got, want) in late.iter().zip(expected) {
        assert_eq!((&got.asset, got.window_start), (&want.asset, want.window_start));
        for (g, w) in got.values.iter().zip(&want.values) {
            assert!(g == w || (g.is_nan() && w.is_nan()) || (g - w).abs() <= 1e-9 * w.abs(), "{g} != {w}");
        }
    }
    assert!(row(&late, "inv0", 19).values[idx::DEGRADATION] < -100.0);
    // Without the history the slow features have too few days and the gap is not seen.
    let alone = window_features(&after, &spec()).unwrap();
    assert!(row(&alone, "inv0", 19).values[idx::DEGRADATION].is_nan());
    assert_eq!(row(&alone, "inv1", 16).values[idx::GAP_COUNT], 0.0);
}
