//! The committed inverter-health model is what the notebooks-export script makes from the committed training
//! data: same training-data hash, same metrics, same evaluation (the real Plant 2 table included), same ONNX
//! bytes.

use prognos_tests::assert_training_reproduces;

#[test]
fn the_training_script_reproduces_the_committed_inverter_model_and_its_metrics() {
    let a = assert_training_reproduces("train_inverter_model.py", "inverters", "inverter-health", "1.0.0");
    let features: Vec<&str> = a["input"]["features"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    assert_eq!(features.len(), 11, "inverter-v1 has 11 features");
    assert_eq!(features[0], "efficiency");
    let metrics = &a["provenance"]["metrics"];
    assert!(metrics["recall_severe_at_threshold"].as_float().unwrap() >= 0.8);
    assert!(metrics["false_positive_rate_healthy"].as_float().unwrap() <= 0.05);
    assert!(a["evaluation"]["real"].as_table().is_some_and(|t| t.contains_key("kaggle_plant_2")));
}
