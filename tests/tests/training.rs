//! The newest committed wheel-health model (1.1.0) is what the notebooks-export script makes from the committed
//! training data: same training-data hash, same metrics, same ONNX bytes.

use prognos_tests::{assert_training_reproduces, repo_root};

#[test]
fn the_training_script_reproduces_the_committed_wheel_model_and_its_metrics() {
    let a = assert_training_reproduces("train_wheel_model.py", "wheels", "wheel-health", "1.1.0");
    let metrics = &a["provenance"]["metrics"];
    assert!(metrics["recall_severe_at_threshold"].as_float().unwrap() >= 0.95);
    assert!(metrics["false_positive_rate_healthy"].as_float().unwrap() <= 0.02);
    assert!(metrics["roc_auc"].as_float().unwrap() >= 0.98, "issue target: ROC AUC >= 0.98 on the held-out seeds");
    // The card carries the training distribution of every feature (drift, explanations), over the training rows.
    let card = prognos_scoring::ModelCard::load(&repo_root().join("models/wheel-health/1.1.0/card.toml")).unwrap();
    let dist = card.training_distribution.expect("[training_distribution]");
    assert_eq!(dist.rows as f64, metrics["train_captures"].as_float().unwrap());
    assert_eq!(dist.features.len(), card.input.features.len());
    assert!(dist.medians(&card.input.features).unwrap().iter().all(|m| m.is_finite()));
}
