//! Explanations: which features pulled a score down most.
//!
//! ONNX Runtime does not give a LightGBM graph's per-feature contributions, so the explanation is an
//! approximation that works for any model: for each feature in turn, its value is replaced by its median over the
//! healthy training rows (the card's `[training_distribution]`) and the row is scored again. A feature's
//! contribution is the health score as scored minus the health score with that feature at its median: negative
//! when the feature's actual value pulled the score down. The rows are scored in the same batch as the row itself
//! (1 + F rows per input), so an explanation costs one larger run, not F runs. Interactions are not split: two
//! features that only matter together each get the whole effect of undoing one of them.

use serde::Serialize;

use crate::worker::Scores;

/// Contributions smaller than this (health points) are noise, not a reason.
pub const MIN_CONTRIBUTION: f64 = 0.05;

/// One feature that pulled a score down.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Driver {
    /// The feature's name.
    pub feature: String,
    /// Its value in the scored row.
    pub value: f64,
    /// The training median it was compared with.
    pub median: f64,
    /// Health as scored minus health with the feature at its median (negative: it pulled the score down).
    pub contribution: f64,
}

/// The rows to score for `rows` input rows of `width` features: each input row, followed by one copy per feature
/// with that feature at its median (a NaN median leaves the value as it is).
pub fn perturbed(values: &[f32], rows: usize, medians: &[f32]) -> Vec<f32> {
    let width = medians.len();
    let mut out = Vec::with_capacity(rows * (width + 1) * width);
    for row in values.chunks(width).take(rows) {
        out.extend_from_slice(row);
        for (j, &m) in medians.iter().enumerate() {
            let at = out.len();
            out.extend_from_slice(row);
            if !m.is_nan() {
                out[at + j] = m;
            }
        }
    }
    out
}

/// Splits the scores of a [`perturbed`] batch: the input rows' own scores, and for each input row the `top`
/// features with the most negative contributions (most negative first).
pub fn split(
    scores: &Scores,
    values: &[f32],
    medians: &[f32],
    features: &[String],
    top: usize,
) -> (Scores, Vec<Vec<Driver>>) {
    let width = medians.len();
    let stride = width + 1;
    let rows = scores.rows() / stride.max(1);
    let mut own = Vec::with_capacity(rows * scores.classes);
    let mut drivers = Vec::with_capacity(rows);
    for i in 0..rows {
        let base = i * stride;
        own.extend_from_slice(scores.row(base));
        let health = f64::from(scores.health(base));
        let row = &values[i * width..(i + 1) * width];
        let mut list: Vec<Driver> = (0..width)
            .filter(|&j| !medians[j].is_nan())
            .map(|j| Driver {
                feature: features[j].clone(),
                value: f64::from(row[j]),
                median: f64::from(medians[j]),
                contribution: health - f64::from(scores.health(base + 1 + j)),
            })
            .filter(|d| d.contribution <= -MIN_CONTRIBUTION)
            .collect();
        list.sort_by(|a, b| a.contribution.total_cmp(&b.contribution));
        list.truncate(top);
        drivers.push(list);
    }
    (Scores { probabilities: own, classes: scores.classes, healthy: scores.healthy }, drivers)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_feature_is_put_at_its_median_in_turn() {
        let rows = perturbed(&[1.0, 2.0, 3.0, 4.0], 2, &[10.0, f32::NAN]);
        assert_eq!(
            rows,
            vec![
                1.0, 2.0, 10.0, 2.0, 1.0, 2.0, // row 0, a at median, b unchanged (no median)
                3.0, 4.0, 10.0, 4.0, 3.0, 4.0, // row 1
            ]
        );
    }

    #[test]
    fn the_features_that_pulled_the_score_down_come_first() {
        // One input row, three features; P(healthy) is column 1. As scored: 40. With a at its median: 45 (a
        // pulled it down 5); b at median: 90 (down 50); c at median: 30 (c held it up).
        let p = |h: f32| [1.0 - h / 100.0, h / 100.0];
        let probabilities: Vec<f32> = [40.0, 45.0, 90.0, 30.0].iter().flat_map(|&h| p(h)).collect();
        let scores = Scores { probabilities, classes: 2, healthy: 1 };
        let features = vec!["a".to_string(), "b".to_string(), "c".to_string()];
        let (own, drivers) = split(&scores, &[1.0, 2.0, 3.0], &[0.0, 0.0, 0.0], &features, 3);
        assert_eq!(own.rows(), 1);
        assert!((own.health(0) - 40.0).abs() < 1e-4);
        let names: Vec<&str> = drivers[0].iter().map(|d| d.feature.as_str()).collect();
        assert_eq!(names, ["b", "a"], "c raised the score; it is no reason for a low one");
        assert!((drivers[0][0].contribution + 50.0).abs() < 1e-3);
        assert_eq!((drivers[0][0].value, drivers[0][0].median), (2.0, 0.0));
        let (_, one) = split(&scores, &[1.0, 2.0, 3.0], &[0.0, 0.0, 0.0], &features, 1);
        assert_eq!(one[0].len(), 1);
    }
}
