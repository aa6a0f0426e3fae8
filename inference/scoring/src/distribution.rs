//! The card's `[training_distribution]`: per feature, the quantiles of the (healthy) training rows and the share of
//! those rows in each bin, written by the training scripts (`notebooks-export/training_distribution.py`). Drift
//! monitoring bins live values the same way; explanations use the medians.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// How far the shares of one feature may add up to something other than 1 (they are rounded decimals).
const SHARE_SUM_TOLERANCE: f64 = 1e-6;

/// The training distribution of every input feature.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainingDistribution {
    /// How many training rows it describes.
    #[serde(default)]
    pub rows: u64,
    /// Which rows, in words.
    #[serde(default)]
    pub source: String,
    /// The probabilities of `quantiles`, ascending within `[0, 1]` (e.g. 0, 0.1, ..., 1).
    pub probabilities: Vec<f64>,
    /// Per feature name.
    pub features: BTreeMap<String, FeatureDistribution>,
}

/// The training distribution of one feature.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeatureDistribution {
    /// The values at `probabilities` over the rows where the feature is present (NaN when it never is).
    pub quantiles: Vec<f64>,
    /// Share of all training rows in each bin of [`FeatureDistribution::cuts`]: `cuts.len() + 1` values.
    pub shares: Vec<f64>,
    /// Share of training rows where the feature is missing (NaN).
    #[serde(default)]
    pub missing: f64,
}

impl FeatureDistribution {
    /// The cut points: the distinct finite interior quantiles (probabilities strictly between 0 and 1), ascending.
    pub fn cuts(&self, probabilities: &[f64]) -> Vec<f64> {
        let mut cuts: Vec<f64> = self
            .quantiles
            .iter()
            .zip(probabilities)
            .filter(|(q, p)| **p > 0.0 && **p < 1.0 && q.is_finite())
            .map(|(q, _)| *q)
            .collect();
        cuts.dedup();
        cuts
    }

    /// The expected share per bin, then the missing share last (the order [`bin`] numbers them in).
    pub fn expected(&self) -> Vec<f64> {
        let mut expected = self.shares.clone();
        expected.push(self.missing);
        expected
    }
}

/// The bin of `value` among `cuts`: the first bin whose cut point is >= the value (`numpy.searchsorted(cuts,
/// value, side="left")`), or `cuts.len() + 1` for a missing value.
pub fn bin(cuts: &[f64], value: f64) -> usize {
    if value.is_nan() {
        cuts.len() + 1
    } else {
        cuts.partition_point(|&c| c < value)
    }
}

impl TrainingDistribution {
    /// The training median of each of `features` (in that order), when the probabilities include 0.5 and the
    /// feature was ever present in training.
    pub fn medians(&self, features: &[String]) -> Option<Vec<f64>> {
        let at = self.probabilities.iter().position(|&p| (p - 0.5).abs() < 1e-12)?;
        features.iter().map(|f| self.features.get(f).and_then(|d| d.quantiles.get(at).copied())).collect()
    }

    /// Internal consistency against the card's feature list.
    pub fn check(&self, features: &[String]) -> Result<(), String> {
        let p = &self.probabilities;
        if p.len() < 3 || p.iter().any(|v| !(0.0..=1.0).contains(v)) || p.windows(2).any(|w| w[0] >= w[1]) {
            return Err(format!(
                "training_distribution.probabilities {p:?} must be at least three ascending values in 0..1"
            ));
        }
        if let Some(extra) = self.features.keys().find(|k| !features.contains(k)) {
            return Err(format!("training_distribution names {extra:?}, which is not an input feature"));
        }
        for name in features {
            let what = format!("training_distribution.features.{name}");
            let d = self.features.get(name).ok_or_else(|| format!("{what} is missing"))?;
            if d.quantiles.len() != p.len() {
                return Err(format!("{what}: {} quantiles for {} probabilities", d.quantiles.len(), p.len()));
            }
            if d.quantiles.iter().any(|q| q.is_infinite()) || d.quantiles.windows(2).any(|w| w[0] > w[1]) {
                return Err(format!("{what}: quantiles must be finite (or NaN) and ascending"));
            }
            let bins = d.cuts(p).len() + 1;
            if d.quantiles.iter().all(|q| q.is_nan()) {
                if (d.missing - 1.0).abs() > SHARE_SUM_TOLERANCE {
                    return Err(format!("{what}: no quantile, so it must be missing in every row"));
                }
                continue;
            }
            if d.shares.len() != bins {
                return Err(format!("{what}: {} shares for {bins} bins of the distinct quantiles", d.shares.len()));
            }
            let shares_ok = d.shares.iter().chain([&d.missing]).all(|s| (0.0..=1.0).contains(s));
            let sum: f64 = d.shares.iter().sum::<f64>() + d.missing;
            if !shares_ok || (sum - 1.0).abs() > SHARE_SUM_TOLERANCE {
                return Err(format!(
                    "{what}: shares and missing must be fractions that add up to 1 (they add up to {sum})"
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feature(quantiles: Vec<f64>, shares: Vec<f64>, missing: f64) -> FeatureDistribution {
        FeatureDistribution { quantiles, shares, missing }
    }

    const P: [f64; 5] = [0.0, 0.25, 0.5, 0.75, 1.0];

    #[test]
    fn ties_collapse_into_one_cut_and_values_on_a_cut_go_left() {
        let d = feature(vec![0.0, 0.0, 0.0, 2.0, 5.0], vec![0.6, 0.2, 0.2], 0.0);
        let cuts = d.cuts(&P);
        assert_eq!(cuts, vec![0.0, 2.0]);
        assert_eq!(bin(&cuts, -1.0), 0);
        assert_eq!(bin(&cuts, 0.0), 0);
        assert_eq!(bin(&cuts, 0.5), 1);
        assert_eq!(bin(&cuts, 2.0), 1);
        assert_eq!(bin(&cuts, 9.0), 2);
        assert_eq!(bin(&cuts, f64::NAN), 3);
        assert_eq!(d.expected(), vec![0.6, 0.2, 0.2, 0.0]);
    }

    #[test]
    fn checks_refuse_what_cannot_be_binned() {
        let features = vec!["a".to_string()];
        let good = TrainingDistribution {
            rows: 10,
            source: String::new(),
            probabilities: P.to_vec(),
            features: BTreeMap::from([("a".into(), feature(vec![0.0, 1.0, 2.0, 3.0, 4.0], vec![0.25; 4], 0.0))]),
        };
        good.check(&features).unwrap();
        assert_eq!(good.medians(&features), Some(vec![2.0]));
        let mut bad = good.clone();
        bad.features.get_mut("a").unwrap().shares = vec![0.5; 4];
        assert!(bad.check(&features).unwrap_err().contains("add up to 1"));
        let mut bad = good.clone();
        bad.features.get_mut("a").unwrap().shares = vec![0.5; 2];
        assert!(bad.check(&features).unwrap_err().contains("2 shares for 4 bins"));
        assert!(good.check(&["b".to_string()]).unwrap_err().contains("not an input feature"));
        let mut bad = good.clone();
        bad.probabilities = vec![0.0, 0.5, 0.4, 0.75, 1.0];
        assert!(bad.check(&features).is_err());
        let mut never = good;
        never.features.insert("a".into(), feature(vec![f64::NAN; 5], vec![0.0], 1.0));
        never.check(&features).unwrap();
        assert_eq!(never.medians(&features).map(|m| m[0].is_nan()), Some(true));
    }
}
