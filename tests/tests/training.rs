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
    // The card carries the distribution of every feature over the healthy training rows (drift, explanations).
    let card = prognos_scoring::ModelCard::load(&repo_root().join("models/wheel-health/1.1.0/card.toml")).unwrap();
    let dist = card.training_distribution.expect("[training_distribution]");
    let train = std::fs::read_to_string(repo_root().join("training-data/wheels/train.csv")).unwrap();
    let healthy = train.lines().skip(1).filter(|l| l.split(',').rev().nth(1) == Some("healthy")).count();
    assert_eq!(dist.rows as usize, healthy, "the healthy training rows");
    assert!(dist.source.contains("healthy"), "{}", dist.source);
    assert_eq!(dist.features.len(), card.input.features.len());
    assert!(dist.medians(&card.input.features).unwrap().iter().all(|m| m.is_finite()));
}
