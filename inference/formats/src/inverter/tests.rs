//! Reader tests: every bad-input case with exact counts, and the real plant files through their pipelines.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use prognos_core::pipeline::InverterSource;
use prognos_core::{Metric, PipelineFile};

use super::*;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn spec(extra: &str) -> InverterSource {
    let text = format!(
        "asset_column = \"INV\"\nignore = [\"PLANT\"]\n{extra}\n\
         [timestamp]\ncolumn = \"TIME\"\nformats = [\"%d-%m-%Y %H:%M\", \"%Y-%m-%d %H:%M:%S\"]\ntimezone = \"+05:30\"\n\
         [[columns]]\nsource = \"AC\"\nmetric = \"ac_power_w\"\nscale = 1000.0\n\
         [[columns]]\nsource = \"IRR\"\nmetric = \"irradiance_w_m2\"\nrequired = false\n\
         [[columns]]\nsource = \"TOTAL\"\nmetric = \"energy_total_wh\"\n"
    );
    toml::from_str(&text).unwrap()
}

fn mapping(extra: &str) -> Arc<Mapping> {
    Arc::new(Mapping::new(&spec(extra), None).unwrap())
}

fn read_all(m: &Arc<Mapping>, text: &str) -> (Vec<prognos_core::Reading>, ParseReport) {
    let mut rows = m.csv(text.as_bytes()).unwrap();
    let mut out = Vec::new();
    loop {
        let c = rows.next_chunk(3).unwrap();
        if c.is_empty() {
            break;
        }
        out.extend(c);
    }
    (out, rows.finish())
}

#[test]
fn every_bad_row_is_counted_and_good_rows_go_through() {
    let m = mapping("");
    let csv = "TIME,PLANT,INV,AC,IRR,TOTAL,EXTRA\n\
        15-05-2020 06:00,1,A,1.5,0.2,100,x\n\
        2020-05-15 06:00:00,1,B,2.0,0.2,200,x\n\
        not a time,1,A,1.0,0.2,100,x\n\
        15-05-2020 06:15,1,,1.0,0.2,100,x\n\
        15-05-2020 06:15,1,A,abc,0.2,100,x\n\
        15-05-2020 06:15,1,A,NaN,0.2,100,x\n\
        15-05-2020 06:15,1,A,1.0,-3,100,x\n\
        15-05-2099 06:15,1,A,1.0,0.2,100,x\n\
        15-05-2020 06:00,1,A,1.5,0.2,100,x\n\
        15-05-2020 06:30,1,A,1.7,,90,x\n\
        15-05-2020 05:45,1,A,1.1,0.1,95,x\n";
    let (readings, report) = read_all(&m, csv);
    assert_eq!(report.rows, 11);
    assert_eq!(readings.len(), 4, "{report:#?}");
    assert_eq!(report.parsed, 4);
    assert_eq!(report.duplicates_in_input, 1);
    let count = |r: Reason| report.rejected.get(&r).copied().unwrap_or(0);
    assert_eq!(count(Reason::UnparseableTimestamp), 1);
    assert_eq!(count(Reason::MissingAsset), 1);
    assert_eq!(count(Reason::NotANumber), 1);
    assert_eq!(count(Reason::NanValue), 1);
    assert_eq!(count(Reason::NegativeIrradiance), 1);
    assert_eq!(count(Reason::FutureTimestamp), 1);
    assert_eq!(report.rejected_total(), 6);
    assert_eq!(report.rows, report.parsed + report.rejected_total() + report.duplicates_in_input);
    assert_eq!(report.warnings.get(&Warning::CounterReset), Some(&1), "90 after 100 (95 after 90 is a rise)");
    assert_eq!(report.warnings.get(&Warning::OutOfOrder), Some(&1));
    assert_eq!(report.unknown_columns, vec!["EXTRA".to_string()]);
    assert_eq!(report.rejections[0].row, 4, "the CSV line, header = 1");
    assert!(report.rejections[0].detail.contains("not a time"));
    // Both timestamp forms, India time, kW scaled to W, an empty cell is "not reported".
    assert_eq!(readings[0].ts, readings[1].ts);
    assert_eq!(readings[0].ts.to_rfc3339(), "2020-05-15T00:30:00+00:00");
    assert_eq!(readings[0].get(Metric::AcPowerW), Some(1500.0));
    assert_eq!(readings[2].get(Metric::IrradianceWM2), None);
}

#[test]
fn a_missing_required_column_refuses_the_file_by_name_and_unknown_can_refuse() {
    let m = mapping("");
    let err = m.csv("TIME,INV,IRR,TOTAL\n".as_bytes()).err().unwrap().to_string();
    assert!(err.contains("missing column \"AC\""), "{err}");
    let err = m.csv("INV,AC,TOTAL\n".as_bytes()).err().unwrap().to_string();
    assert!(err.contains("\"TIME\""), "{err}");
    // Optional columns may be absent.
    assert!(m.csv("TIME,INV,AC,TOTAL\n".as_bytes()).is_ok());
    let strict = mapping("unknown_columns = \"refuse\"");
    let err = strict.csv("TIME,INV,AC,TOTAL,WHAT\n".as_bytes()).err().unwrap().to_string();
    assert!(err.contains("unknown column \"WHAT\""), "{err}");
}

#[test]
fn ranges_reject_and_json_batches_read_like_csv() {
    let m = mapping("[[ranges]]\nmetric = \"ac_power_w\"\nmin = 0.0\nmax = 2000.0\n");
    let body = br#"{"readings": [
        {"TIME": "2020-05-15 06:00:00", "INV": "A", "AC": 1.5, "TOTAL": 10},
        {"TIME": "2020-05-15 06:15:00", "INV": "A", "AC": "1.6", "TOTAL": 11, "IRR": null},
        {"TIME": "2020-05-15 06:30:00", "INV": "A", "AC": 2.5, "TOTAL": 12},
        {"TIME": "2020-05-15 06:45:00", "INV": "A", "TOTAL": 13},
        {"TIME": "2020-05-15 07:00:00", "INV": "A", "AC": true, "TOTAL": 13, "NEW": 1},
        [1, 2]
    ]}"#;
    let (readings, report) = m.json(body).unwrap();
    assert_eq!(readings.len(), 2, "{report:#?}");
    assert_eq!(report.rejected.get(&Reason::OutOfRange), Some(&1));
    assert_eq!(report.rejected.get(&Reason::MissingColumn), Some(&1));
    assert_eq!(report.rejected.get(&Reason::NotANumber), Some(&1));
    assert_eq!(report.rejected.get(&Reason::Malformed), Some(&1));
    assert_eq!(report.unknown_columns, vec!["NEW".to_string()]);
    assert_eq!(readings[1].get(Metric::AcPowerW), Some(1600.0));
    // A single object (an MQTT message) and a bare array work too; broken JSON is a whole-batch error.
    assert_eq!(m.json(br#"{"TIME": "2020-05-15 06:00:00", "INV": "A", "AC": 1, "TOTAL": 1}"#).unwrap().0.len(), 1);
    assert_eq!(m.json(br#"[{"TIME": "2020-05-15 06:00:00", "INV": "A", "AC": 1, "TOTAL": 1}]"#).unwrap().0.len(), 1);
    assert!(m.json(b"{not json").is_err());
}

#[test]
fn weather_joins_by_nearest_time_within_tolerance_and_a_non_overlapping_series_is_noted() {
    let file = PipelineFile::load(&repo().join("pipelines/kaggle-plant-1.toml")).unwrap();
    let src = file.inverter.unwrap();
    let w = src.weather.clone().unwrap();
    let weather_csv = "DATE_TIME,PLANT_ID,SOURCE_KEY,AMBIENT_TEMPERATURE,MODULE_TEMPERATURE,IRRADIATION\n\
        2020-05-15 12:00:00,1,W,30,45,0.8\n\
        2020-05-15 12:15:00,1,W,31,46,-0.1\n\
        2020-05-15 12:30:00,1,W,32,47,0.9\n";
    let (series, wreport) = WeatherSeries::read(&w, weather_csv.as_bytes()).unwrap();
    assert_eq!(series.len(), 2);
    assert_eq!(wreport.rejected.get(&Reason::NegativeIrradiance), Some(&1));
    let m = Arc::new(Mapping::new(&src, Some(Arc::new(series))).unwrap());
    let gen = "DATE_TIME,PLANT_ID,SOURCE_KEY,DC_POWER,AC_POWER,DAILY_YIELD,TOTAL_YIELD\n\
        15-05-2020 12:02,1,A,10,1,0,5\n\
        15-05-2020 12:15,1,A,10,1,0,6\n\
        15-05-2020 13:30,1,A,10,1,0,7\n";
    let (r, report) = read_all(&m, gen);
    assert_eq!(r.len(), 3);
    assert_eq!(r[0].get(Metric::IrradianceWM2), Some(800.0));
    assert_eq!(r[0].get(Metric::AmbientTempC), Some(30.0));
    assert_eq!(r[0].get(Metric::DcPowerW), Some(1000.0), "Plant 1's DC column is scaled by 100");
    assert_eq!(r[1].get(Metric::IrradianceWM2), None, "12:15 is 15 min from both neighbours: beyond 450 s");
    assert_eq!(report.warnings.get(&Warning::NoWeather), Some(&2));
    assert!(report.notes.is_empty());
    let (_, report) = read_all(
        &m,
        "DATE_TIME,PLANT_ID,SOURCE_KEY,DC_POWER,AC_POWER,DAILY_YIELD,TOTAL_YIELD\n\
        15-05-2021 12:00,1,A,10,1,0,5\n",
    );
    assert!(report.notes[0].contains("does not overlap"), "{:?}", report.notes);
}

fn real_file(pipeline: &str, data: &str) -> (usize, ParseReport, usize) {
    let file = PipelineFile::load(&repo().join("pipelines").join(pipeline)).unwrap();
    let src = file.inverter.unwrap();
    let weather = src.weather.as_ref().map(|w| Arc::new(WeatherSeries::load(w, &repo()).unwrap().0));
    let m = Arc::new(Mapping::new(&src, weather).unwrap());
    let f = std::fs::File::open(repo().join("../shared/data/real").join(data)).unwrap();
    let mut rows = m.csv(std::io::BufReader::new(f)).unwrap();
    let mut n = 0;
    let mut assets = std::collections::HashSet::new();
    loop {
        let c = rows.next_chunk(10_000).unwrap();
        if c.is_empty() {
            break;
        }
        n += c.len();
        assets.extend(c.into_iter().map(|r| r.asset));
    }
    (n, rows.finish(), assets.len())
}

#[test]
fn the_real_plants_and_the_nrel_file_read_through_their_pipelines() {
    let (n, report, assets) = real_file("kaggle-plant-1.toml", "kaggle-solar-plants/Plant_1_Generation_Data.csv");
    assert_eq!((n, assets), (68_778, 22), "{report:#?}");
    assert_eq!(report.rejected_total(), 0);
    assert!(report.unknown_columns.is_empty());
    assert!(report.warnings.get(&Warning::NoWeather).copied().unwrap_or(0) < 1000, "{report:#?}");
    let (n, report, assets) = real_file("kaggle-plant-2.toml", "kaggle-solar-plants/Plant_2_Generation_Data.csv");
    assert_eq!((n, assets), (67_698, 22), "{report:#?}");
    assert_eq!(report.warnings.get(&Warning::CounterReset), Some(&1162));
    let (n, report, assets) = real_file("nrel-rsf-ii.toml", "nrel-pvdaq/nrel_RSF_II.csv");
    assert_eq!((n, assets), (480, 1), "{report:#?}");
    assert_eq!(report.rejected_total(), 0);
}
