//! The model card (`card.toml`): what a model takes, what it returns, and where it came from.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::distribution::TrainingDistribution;
use crate::error::{Result, ScoringError};

/// A model card, as written next to `model.onnx` by the training scripts (format: `models/README.md`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelCard {
    /// The model's name; equals its folder under `models/`.
    pub name: String,
    /// The version; equals its folder under `models/<name>/`; semver.
    pub version: String,
    /// One line for people.
    #[serde(default)]
    pub description: String,
    /// The graph input that takes the feature matrix.
    pub input: InputSpec,
    /// The graph output that carries the class probabilities.
    pub output: OutputSpec,
    /// Alerting defaults that travel with the model.
    #[serde(default)]
    pub alert: AlertSpec,
    /// Where the model came from.
    #[serde(default)]
    pub provenance: Provenance,
    /// Free-form evaluation tables written by the training script (recall by failure mode, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evaluation: Option<toml::Table>,
    /// The training distribution of each feature (drift and explanations); without it, drift is unknown and
    /// predictions carry no explanation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub training_distribution: Option<TrainingDistribution>,
}

/// The element type of the feature input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum InputDtype {
    /// 32-bit floats.
    Float32,
    /// 64-bit floats.
    Float64,
}

/// The feature input: one matrix `[N, F]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InputSpec {
    /// The graph input's name.
    pub name: String,
    /// Its element type.
    pub dtype: InputDtype,
    /// The ordered feature names; `F` is their count.
    pub features: Vec<String>,
}

/// How the probabilities come out of the graph.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OutputKind {
    /// A float tensor `[N, C]`, or `[N, 1]` / `[N]` for a sigmoid (P of `classes[1]`).
    Tensor,
    /// ZipMap: `seq(map(int64 | string, float))`, one map per row keyed by class label.
    Zipmap,
}

/// The probability output.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutputSpec {
    /// The graph output's name.
    pub name: String,
    /// Tensor or ZipMap.
    pub kind: OutputKind,
    /// Class labels, as text, in probability-column order (ZipMap: the map keys).
    pub classes: Vec<String>,
    /// The class whose probability x 100 is the health score.
    pub healthy_class: String,
    /// The graph output with the predicted label, if any (used to check the class order at load).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label_output: Option<String>,
}

/// Alert defaults carried by the model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertSpec {
    /// Alert when the health score drops below this (0..100).
    pub threshold: f64,
}

impl Default for AlertSpec {
    fn default() -> Self {
        Self { threshold: 70.0 }
    }
}

/// Where a model came from.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Provenance {
    /// Framework and exporter with versions.
    #[serde(default)]
    pub framework: String,
    /// The script that trained it.
    #[serde(default)]
    pub script: String,
    /// The training data folder.
    #[serde(default)]
    pub training_data: String,
    /// sha256 over the training CSVs, sorted by name.
    #[serde(default)]
    pub training_data_sha256: String,
    /// When it was trained (RFC 3339, UTC).
    #[serde(default)]
    pub trained_at: String,
    /// Held-out metrics.
    #[serde(default)]
    pub metrics: BTreeMap<String, f64>,
}

impl ModelCard {
    /// Reads and checks a card file.
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ScoringError::Card { path: path.to_path_buf(), reason: format!("cannot read: {e}") })?;
        let card: ModelCard = toml::from_str(&text)
            .map_err(|e| ScoringError::Card { path: path.to_path_buf(), reason: e.to_string() })?;
        card.check().map_err(|reason| ScoringError::Card { path: path.to_path_buf(), reason })?;
        Ok(card)
    }

    /// `name@version`.
    pub fn id(&self) -> String {
        format!("{}@{}", self.name, self.version)
    }

    /// The column of the healthy class among `classes`.
    pub fn healthy_index(&self) -> usize {
        self.output.classes.iter().position(|c| c == &self.output.healthy_class).unwrap_or(0)
    }

    /// Internal consistency, independent of the graph.
    pub fn check(&self) -> std::result::Result<(), String> {
        if self.name.is_empty() || self.name.contains(['/', '@', '\\']) {
            return Err(format!("name {:?} must be non-empty without '/', '@' or '\\'", self.name));
        }
        semver::Version::parse(&self.version).map_err(|e| format!("version {:?} is not semver: {e}", self.version))?;
        if self.input.features.is_empty() {
            return Err("input.features is empty".into());
        }
        let mut seen = std::collections::HashSet::new();
        if let Some(dup) = self.input.features.iter().find(|f| !seen.insert(f.as_str())) {
            return Err(format!("input.features lists {dup:?} twice"));
        }
        if self.output.classes.len() < 2 {
            return Err(format!("output.classes needs at least two classes, has {}", self.output.classes.len()));
        }
        let mut seen = std::collections::HashSet::new();
        if let Some(dup) = self.output.classes.iter().find(|c| !seen.insert(c.as_str())) {
            return Err(format!("output.classes lists {dup:?} twice"));
        }
        if !self.output.classes.contains(&self.output.healthy_class) {
            return Err(format!(
                "output.healthy_class {:?} is not one of output.classes {:?}",
                self.output.healthy_class, self.output.classes
            ));
        }
        if !(0.0..=100.0).contains(&self.alert.threshold) {
            return Err(format!("alert.threshold {} is outside 0..100", self.alert.threshold));
        }
        if let Some(dist) = &self.training_distribution {
            dist.check(&self.input.features)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CARD: &str = r#"
name = "wheel-health"
version = "1.0.0"
[input]
name = "features"
dtype = "float32"
features = ["a", "b"]
[output]
name = "probabilities"
kind = "tensor"
classes = ["0", "1"]
healthy_class = "0"
"#;

    #[test]
    fn parses_a_minimal_card_with_defaults() {
        let card: ModelCard = toml::from_str(CARD).unwrap();
        card.check().unwrap();
        assert_eq!(card.alert.threshold, 70.0);
        assert_eq!(card.healthy_index(), 0);
        assert_eq!(card.id(), "wheel-health@1.0.0");
    }

    #[test]
    fn refuses_inconsistent_cards() {
        let bad = [
            (CARD.replace("healthy_class = \"0\"", "healthy_class = \"ok\""), "not one of"),
            (CARD.replace("\"1.0.0\"", "\"one\""), "not semver"),
            (CARD.replace("[\"a\", \"b\"]", "[\"a\", \"a\"]"), "twice"),
            (CARD.replace("[\"0\", \"1\"]", "[\"0\"]"), "at least two"),
        ];
        for (text, needle) in bad {
            let card: ModelCard = toml::from_str(&text).unwrap();
            let err = card.check().unwrap_err();
            assert!(err.contains(needle), "{err}");
        }
        let unknown = CARD.replace("kind = \"tensor\"", "kind = \"tensor\"\nbogus = 1");
        assert!(toml::from_str::<ModelCard>(&unknown).is_err());
    }
}
