//! The committed inverter-health model is what the notebooks-export script makes from the committed training
//! data: same training-data hash, same metrics, same evaluation (the real Plant 2 table included), same ONNX
//! bytes.

use prognos_tests::{python, repo_root};

#[test]
fn the_training_script_reproduces_the_committed_inverter_model_and_its_metrics() {
    let out = tempfile::tempdir().unwrap();
    let root = repo_root();
    let status = std::process::Command::new(python())
        .arg(root.join("notebooks-export/train_inverter_model.py"))
        .args(["--data", root.join("training-data/inverters").to_str().unwrap()])
        .args(["--out", out.path().to_str().unwrap(), "--version", "1.0.0"])
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "train_inverter_model.py failed");
    let committed = root.join("models/inverter-health/1.0.0");
    let fresh = out.path().join("inverter-health/1.0.0");
    let card = |dir: &std::path::Path| -> toml::Table {
        toml::from_str(&std::fs::read_to_string(dir.join("card.toml")).unwrap()).unwrap()
    };
    let (a, b) = (card(&committed), card(&fresh));
    assert_eq!(a["provenance"]["training_data_sha256"], b["provenance"]["training_data_sha256"]);
    assert_eq!(a["provenance"]["metrics"], b["provenance"]["metrics"], "metrics differ from the committed card");
    assert_eq!(a["evaluation"], b["evaluation"]);
    assert_eq!(a["input"], b["input"]);
    let features: Vec<&str> = a["input"]["features"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    assert_eq!(features.len(), 11, "inverter-v1 has 11 features");
    assert_eq!(features[0], "efficiency");
    let metrics = &a["provenance"]["metrics"];
    assert!(metrics["recall_severe_at_threshold"].as_float().unwrap() >= 0.8);
    assert!(metrics["false_positive_rate_healthy"].as_float().unwrap() <= 0.05);
    assert!(a["evaluation"]["real"].as_table().is_some_and(|t| t.contains_key("kaggle_plant_2")));
    assert_eq!(
        std::fs::read(committed.join("model.onnx")).unwrap(),
        std::fs::read(fresh.join("model.onnx")).unwrap(),
        "the committed model.onnx is not what the script produces"
    );
}
