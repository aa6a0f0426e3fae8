//! The plan's mix, the camera-folder layout with `labels.csv`, training rows and `run_wheels`.

use std::collections::BTreeMap;

use prognos_features::{csv_header, FEATURE_COUNT};
use prognos_formats::icon::Capture;
use prognos_simulate::{
    plan, rows_for, run_wheels, training_rows, write_captures, FailureMode, PlanOptions, SimError, WheelsOptions,
    HEALTHY,
};

fn small() -> PlanOptions {
    PlanOptions { profiles: 64..=96, ..PlanOptions::default() }
}

#[test]
fn plan_mix_is_reproducible_and_balanced() {
    let a = plan(5, 100, &PlanOptions::default()).unwrap();
    assert_eq!(a, plan(5, 100, &PlanOptions::default()).unwrap());
    assert_ne!(a, plan(6, 100, &PlanOptions::default()).unwrap());
    let mut by_label: BTreeMap<&str, usize> = BTreeMap::new();
    for s in &a {
        *by_label.entry(s.label()).or_default() += 1;
        assert!(s.validate().is_ok());
        assert!([1536, 2560].contains(&s.width));
        assert!((300..=1200).contains(&s.profiles));
        let sev = s.severity();
        assert!((0.0..=1.0).contains(&sev));
        if s.failure.is_none() {
            assert_eq!(sev, 0.0);
        }
    }
    assert_eq!(by_label[HEALTHY], 40);
    for m in FailureMode::ALL {
        let n = by_label[m.name()];
        assert!((6..=7).contains(&n), "{m}: {n}");
    }
    let mut ids: Vec<String> = a.iter().map(|s| s.capture_id()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), a.len(), "capture ids are unique");
    assert!(a.windows(2).all(|w| w[1].captured_at > w[0].captured_at));

    let bad = PlanOptions { healthy_share: 1.5, ..PlanOptions::default() };
    assert!(matches!(plan(1, 10, &bad), Err(SimError::InvalidSpec(_))));
}

#[test]
fn writes_camera_folders_and_labels() {
    let dir = tempfile::tempdir().unwrap();
    let specs = plan(9, 8, &small()).unwrap();
    let w = write_captures(dir.path(), &specs).unwrap();
    assert_eq!(w.captures, 8);
    let labels = std::fs::read_to_string(&w.labels).unwrap();
    let lines: Vec<&str> = labels.lines().collect();
    assert_eq!(lines[0], "capture_id,camera,wheel,captured_at,failure_mode,severity");
    assert_eq!(lines.len(), 9);
    for (s, line) in specs.iter().zip(&lines[1..]) {
        let id = s.capture_id();
        let stem = dir.path().join(&s.camera).join(&id);
        let xml = stem.with_extension("xml");
        let dat = stem.with_extension("dat");
        assert!(xml.is_file() && dat.is_file(), "{}", stem.display());
        let name = xml.file_name().unwrap().to_str().unwrap().to_string();
        assert!(
            name.starts_with(&format!("{}_2026", s.camera)) && name.ends_with(&format!("Z_{}.xml", s.wheel_id)),
            "{name}"
        );
        let c = Capture::open(&xml, &dat).unwrap();
        assert_eq!((c.width(), c.profiles()), (s.width, s.profiles));
        let fields: Vec<&str> = line.split(',').collect();
        assert_eq!(fields[0], id);
        assert_eq!(fields[1], s.camera);
        assert_eq!(fields[2], s.wheel_id);
        assert!(fields[3].ends_with('Z') && fields[3].contains('T'));
        assert_eq!(fields[4], s.label());
        assert_eq!(fields[5].parse::<f32>().unwrap(), s.severity());
    }
    // Nothing but camera folders and labels.csv (no temporary files left behind).
    let mut names: Vec<String> =
        std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    names.sort();
    assert!(names.iter().all(|n| n == "labels.csv" || n.starts_with("Cam_")), "{names:?}");
}

#[test]
fn training_rows_are_reproducible_and_thread_independent() {
    let rows = training_rows(3, 6, &small()).unwrap();
    assert_eq!(rows.len(), 6);
    assert_eq!(rows, training_rows(3, 6, &small()).unwrap());
    let specs = plan(3, 6, &small()).unwrap();
    assert_eq!(rows, rows_for(&specs, 2).unwrap());
    for (r, s) in rows.iter().zip(&specs) {
        assert_eq!(r.capture_id, s.capture_id());
        assert_eq!(r.values.len(), FEATURE_COUNT);
        assert_eq!(r.label.as_deref(), Some(s.label()));
        assert_eq!(r.severity, Some(s.severity()));
    }
}

#[test]
fn run_wheels_writes_both_outputs() {
    assert!(matches!(run_wheels(&WheelsOptions::default()), Err(SimError::NothingToDo)));
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("train.csv");
    let opts = WheelsOptions {
        out: Some(dir.path().join("captures")),
        training_csv: Some(csv.clone()),
        count: 5,
        seed: 4,
        threads: 2,
        plan: small(),
    };
    let summary = run_wheels(&opts).unwrap();
    assert_eq!((summary.captures, summary.written, summary.training_rows), (5, 5, 5));
    assert_eq!(summary.by_label.values().sum::<usize>(), 5);
    assert!(summary.dat_bytes > 0);
    let text = std::fs::read_to_string(&csv).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next().unwrap(), csv_header().join(","));
    assert_eq!(lines.count(), 5);
    assert!(dir.path().join("captures/labels.csv").is_file());
}
