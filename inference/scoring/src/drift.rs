//! Input drift: the population stability index (PSI) of each feature over a rolling window of the rows a model
//! version scored, against the training distribution in its card.
//!
//! `PSI = sum over bins of (live - expected) x ln(live / expected)`, with the bins of
//! [`crate::distribution`] (the training deciles, plus one bin for missing values) and both shares floored at
//! [`SHARE_FLOOR`] so that an empty bin does not make it infinite. Under 0.1 is usually read as stable, 0.1 to
//! 0.25 as a moderate shift, above 0.25 as a shift worth a look.
//!
//! The window keeps, per row, the bin of each feature (one byte each), and a count per (feature, bin), so
//! recording a row and computing the index are both a few operations per feature.

use std::collections::VecDeque;
use std::sync::Mutex;

use serde::Serialize;

use crate::card::ModelCard;
use crate::distribution::bin;

/// Shares below this count as this much in the index (the usual guard against `ln 0`).
pub const SHARE_FLOOR: f64 = 1e-4;

/// The population stability index of `live` against `expected` (shares per bin, each summing to about 1).
pub fn psi(expected: &[f64], live: &[f64]) -> f64 {
    expected
        .iter()
        .zip(live)
        .map(|(&e, &a)| {
            let (e, a) = (e.max(SHARE_FLOOR), a.max(SHARE_FLOOR));
            (a - e) * (a / e).ln()
        })
        .sum()
}

/// How drift is measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DriftOptions {
    /// The newest rows kept per model version.
    pub window_rows: usize,
    /// Rows needed in the window before an index is reported.
    pub min_rows: usize,
}

impl Default for DriftOptions {
    fn default() -> Self {
        Self { window_rows: 1000, min_rows: 200 }
    }
}

/// The drift of one feature.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct FeatureDrift {
    /// The feature's name.
    pub feature: String,
    /// Its population stability index over the window.
    pub psi: f64,
}

/// The drift of one model version.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct DriftReport {
    /// The model's name.
    pub model: String,
    /// The version whose inputs these are.
    pub version: String,
    /// Rows in the window.
    pub rows: usize,
    /// Rows recorded since the version started serving.
    pub rows_total: u64,
    /// The window's capacity.
    pub window_rows: usize,
    /// Rows needed before `features` is filled.
    pub min_rows: usize,
    /// Per feature in card order; empty until the window holds `min_rows` rows.
    pub features: Vec<FeatureDrift>,
}

impl DriftReport {
    /// The feature with the highest index, if reported.
    pub fn worst(&self) -> Option<&FeatureDrift> {
        self.features.iter().max_by(|a, b| a.psi.total_cmp(&b.psi))
    }
}

/// Rows binned for a window, not yet added to it.
#[derive(Debug, Default)]
pub struct BinnedRows(Vec<Box<[u8]>>);

struct FeatureBins {
    cuts: Vec<f64>,
    expected: Vec<f64>,
}

struct Window {
    /// Each row's bins, one byte per feature.
    rows: VecDeque<Box<[u8]>>,
    /// `counts[f][b]`: rows in the window with feature `f` in bin `b`.
    counts: Vec<Vec<u32>>,
    total: u64,
}

/// The rolling window of one model version; shared by every handle on that version.
pub struct DriftWindow {
    model: String,
    version: String,
    features: Vec<String>,
    bins: Vec<FeatureBins>,
    opts: DriftOptions,
    window: Mutex<Window>,
}

impl std::fmt::Debug for DriftWindow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DriftWindow").field("model", &self.model).field("version", &self.version).finish()
    }
}

impl DriftWindow {
    /// A window for `card`, or `None` when the card carries no training distribution (drift is then unknown).
    pub fn for_card(card: &ModelCard, opts: DriftOptions) -> Option<Self> {
        let dist = card.training_distribution.as_ref()?;
        let mut bins = Vec::with_capacity(card.input.features.len());
        for name in &card.input.features {
            let d = dist.features.get(name)?;
            let cuts = d.cuts(&dist.probabilities);
            // A bin index must fit a byte; the cards hold about ten bins.
            if cuts.len() + 2 > usize::from(u8::MAX) {
                return None;
            }
            let mut expected = d.expected();
            expected.resize(cuts.len() + 2, 0.0);
            bins.push(FeatureBins { cuts, expected });
        }
        let counts = bins.iter().map(|b| vec![0; b.expected.len()]).collect();
        Some(Self {
            model: card.name.clone(),
            version: card.version.clone(),
            features: card.input.features.clone(),
            bins,
            // More rows required than the window holds would never report: at most the window.
            opts: DriftOptions {
                window_rows: opts.window_rows.max(1),
                min_rows: opts.min_rows.clamp(1, opts.window_rows.max(1)),
            },
            window: Mutex::new(Window { rows: VecDeque::new(), counts, total: 0 }),
        })
    }

    /// Adds `rows` rows of row-major values in card feature order, dropping the oldest past the window size.
    pub fn record(&self, values: &[f32], rows: usize) {
        self.push(self.bin_rows(values, rows));
    }

    /// The bins of `rows` rows (nothing when the shape is wrong), to [`DriftWindow::push`] once they are scored.
    pub fn bin_rows(&self, values: &[f32], rows: usize) -> BinnedRows {
        let width = self.features.len();
        if width == 0 || values.len() != rows * width {
            return BinnedRows(Vec::new());
        }
        BinnedRows(
            values
                .chunks(width)
                .map(|row| row.iter().zip(&self.bins).map(|(&v, b)| bin(&b.cuts, f64::from(v)) as u8).collect())
                .collect(),
        )
    }

    /// Adds rows binned by [`DriftWindow::bin_rows`].
    pub fn push(&self, rows: BinnedRows) {
        let mut w = self.window.lock().unwrap_or_else(|e| e.into_inner());
        for row in rows.0 {
            if w.rows.len() == self.opts.window_rows {
                if let Some(old) = w.rows.pop_front() {
                    for (f, &b) in old.iter().enumerate() {
                        w.counts[f][usize::from(b)] -= 1;
                    }
                }
            }
            for (f, &b) in row.iter().enumerate() {
                w.counts[f][usize::from(b)] += 1;
            }
            w.rows.push_back(row);
            w.total += 1;
        }
    }

    /// The index of every feature over the current window.
    pub fn report(&self) -> DriftReport {
        let w = self.window.lock().unwrap_or_else(|e| e.into_inner());
        let rows = w.rows.len();
        let features = if rows >= self.opts.min_rows {
            self.features
                .iter()
                .zip(&self.bins)
                .zip(&w.counts)
                .map(|((name, b), counts)| {
                    let live: Vec<f64> = counts.iter().map(|&c| f64::from(c) / rows as f64).collect();
                    FeatureDrift { feature: name.clone(), psi: psi(&b.expected, &live) }
                })
                .collect()
        } else {
            Vec::new()
        };
        DriftReport {
            model: self.model.clone(),
            version: self.version.clone(),
            rows,
            rows_total: w.total,
            window_rows: self.opts.window_rows,
            min_rows: self.opts.min_rows,
            features,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn psi_matches_hand_computed_values() {
        // Identical shares: no drift.
        assert_eq!(psi(&[0.25; 4], &[0.25; 4]), 0.0);
        // (0.4-0.5) ln(0.4/0.5) + (0.6-0.5) ln(0.6/0.5) = 0.1 x 0.223144 + 0.1 x 0.182322 = 0.040546.
        assert!((psi(&[0.5, 0.5], &[0.4, 0.6]) - 0.040_546_5).abs() < 1e-6);
        // Ten deciles, all live rows in the top one:
        // 9 x (0 -> 1e-4 - 0.1) ln(1e-4 / 0.1) + (1 - 0.1) ln(1 / 0.1)
        // = 9 x 0.0999 x 6.907755 + 0.9 x 2.302585 = 6.210762 + 2.072327 = 8.283089.
        let mut live = [0.0; 10];
        live[9] = 1.0;
        assert!((psi(&[0.1; 10], &live) - 8.283_089).abs() < 1e-5, "{}", psi(&[0.1; 10], &live));
        // Half the live rows shifted one decile up: 0.05 in bin 0, 0.15 in bin 9, else 0.1 each.
        // (0.05-0.1) ln(0.5) + (0.15-0.1) ln(1.5) = 0.034657 + 0.020273 = 0.054931.
        let mut live = [0.1; 10];
        live[0] = 0.05;
        live[9] = 0.15;
        assert!((psi(&[0.1; 10], &live) - 0.054_931).abs() < 1e-6);
    }

    fn card() -> ModelCard {
        toml::from_str(
            r#"
name = "m"
version = "1.0.0"
[input]
name = "x"
dtype = "float32"
features = ["a", "b"]
[output]
name = "p"
kind = "tensor"
classes = ["0", "1"]
healthy_class = "1"
[training_distribution]
probabilities = [0.0, 0.5, 1.0]
[training_distribution.features.a]
quantiles = [0.0, 1.0, 2.0]
shares = [0.5, 0.5]
[training_distribution.features.b]
quantiles = [0.0, 1.0, 2.0]
shares = [0.4, 0.4]
missing = 0.2
"#,
        )
        .unwrap()
    }

    #[test]
    fn the_window_reports_after_min_rows_and_forgets_the_oldest() {
        let w = DriftWindow::for_card(&card(), DriftOptions { window_rows: 4, min_rows: 2 }).unwrap();
        w.record(&[0.5, f32::NAN], 1);
        let r = w.report();
        assert_eq!((r.rows, r.rows_total), (1, 1));
        assert!(r.features.is_empty(), "below min_rows");
        // a: one row <= 1 (bin 0), one > 1 (bin 1) matches 0.5/0.5; b: 0.5 missing, 0.5 in bin 0 against
        // 0.4/0.4/0.2: (0.5-0.4) ln(1.25) + (1e-4-0.4) ln(1e-4/0.4) + (0.5-0.2) ln(2.5)
        //            = 0.022314 + 3.316791 + 0.274887 = 3.613992.
        w.record(&[1.5, 0.0], 1);
        let r = w.report();
        assert_eq!(r.features[0], FeatureDrift { feature: "a".into(), psi: 0.0 });
        assert!((r.features[1].psi - 3.613_992).abs() < 1e-5, "{}", r.features[1].psi);
        assert_eq!(r.worst().unwrap().feature, "b");
        // Four more rows matching b's training shares except the missing one push the first two out.
        w.record(&[0.1, 0.5, 1.2, 1.5, 0.3, 0.2, 1.9, 1.7], 4);
        let r = w.report();
        assert_eq!((r.rows, r.rows_total), (4, 6));
        assert_eq!(r.features[0].psi, 0.0);
        // b: 0.5 / 0.5 / 0 against 0.4 / 0.4 / 0.2.
        let expected = psi(&[0.4, 0.4, 0.2], &[0.5, 0.5, 0.0]);
        assert!((r.features[1].psi - expected).abs() < 1e-12);
    }

    #[test]
    fn a_minimum_above_the_window_is_the_window() {
        let w = DriftWindow::for_card(&card(), DriftOptions { window_rows: 2, min_rows: 50 }).unwrap();
        w.record(&[0.5, 0.5, 1.5, 1.5], 2);
        assert_eq!(w.report().min_rows, 2);
        assert_eq!(w.report().features.len(), 2);
    }

    #[test]
    fn a_card_without_the_section_has_no_window() {
        let mut c = card();
        c.training_distribution = None;
        assert!(DriftWindow::for_card(&c, DriftOptions::default()).is_none());
    }
}
