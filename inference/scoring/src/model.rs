//! A loaded, validated and warmed ONNX model: one ONNX Runtime session and the plan to read its output.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use ort::session::{builder::GraphOptimizationLevel, HasSelectedOutputs, OutputSelector, RunOptions, Session};
use ort::value::{DynMapValueType, TensorRef, ValueType};

use crate::card::{InputDtype, ModelCard};
use crate::contract::{check_input, check_outputs, OutputReader};
use crate::error::{Result, ScoringError};
use crate::runtime::{environment, RuntimeLocator};

/// How a session is built.
#[derive(Debug, Clone)]
pub struct SessionOptions {
    /// ONNX Runtime intra-op threads per session.
    pub intra_threads: usize,
    /// Where ONNX Runtime is.
    pub locator: RuntimeLocator,
}

/// The file names inside a model version folder.
pub const MODEL_FILE: &str = "model.onnx";
/// The card's file name.
pub const CARD_FILE: &str = "card.toml";

/// A model ready to score. Owned by exactly one worker thread (`run` needs `&mut`).
pub struct Model {
    card: Arc<ModelCard>,
    session: Session,
    reader: OutputReader,
    /// ZipMap key (as text) -> column in `card.output.classes`.
    key_columns: HashMap<String, usize>,
    /// Fetches only the probability output (the label output is computed only at warm-up).
    probabilities_only: RunOptions<HasSelectedOutputs>,
    dir: PathBuf,
}

impl std::fmt::Debug for Model {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Model").field("id", &self.card.id()).field("reader", &self.reader).finish()
    }
}

impl Model {
    /// Loads `dir/model.onnx` with `dir/card.toml`, checks the contract, and warms the session up.
    pub fn load(dir: &Path, opts: &SessionOptions) -> Result<Self> {
        let card = ModelCard::load(&dir.join(CARD_FILE))?;
        check_folder_names(dir, &card)?;
        Self::load_card(dir, card, opts)
    }

    /// Like [`Model::load`] for a folder outside the registry layout (an upload being staged): the card must
    /// name `name` and `version` instead of its folders doing so.
    pub fn load_as(dir: &Path, name: &str, version: &str, opts: &SessionOptions) -> Result<Self> {
        let card = ModelCard::load(&dir.join(CARD_FILE))?;
        if card.name != name || card.version != version {
            return Err(ScoringError::Card {
                path: dir.join(CARD_FILE),
                reason: format!("card says {} but {name}@{version} was expected", card.id()),
            });
        }
        Self::load_card(dir, card, opts)
    }

    fn load_card(dir: &Path, card: ModelCard, opts: &SessionOptions) -> Result<Self> {
        let started = Instant::now();
        let env = environment(&opts.locator)?;
        let model_path = dir.join(MODEL_FILE);
        let load_err = |reason: String| ScoringError::Load { model: card.id(), path: model_path.clone(), reason };
        if !model_path.is_file() {
            return Err(load_err("the file does not exist".into()));
        }
        let session = Session::builder(env)
            .and_then(|b| Ok(b.with_optimization_level(GraphOptimizationLevel::Level3)?))
            .and_then(|b| Ok(b.with_intra_threads(opts.intra_threads.max(1))?))
            .and_then(|b| Ok(b.with_inter_threads(1)?))
            .and_then(|mut b| b.commit_from_file(&model_path))
            .map_err(|e| load_err(e.to_string()))?;
        let mismatch = |detail: String| ScoringError::Mismatch { model: card.id(), detail };
        check_input(&card, session.inputs()).map_err(mismatch)?;
        let reader = check_outputs(&card, session.outputs()).map_err(mismatch)?;
        let key_columns = card.output.classes.iter().enumerate().map(|(i, c)| (c.clone(), i)).collect();
        let probabilities_only = RunOptions::new()
            .map(|o| o.with_outputs(OutputSelector::no_default().with(card.output.name.clone())))
            .map_err(|e| load_err(e.to_string()))?;
        let mut model =
            Model { card: Arc::new(card), session, reader, key_columns, probabilities_only, dir: dir.to_path_buf() };
        model.warm_up()?;
        let secs = started.elapsed().as_secs_f64();
        metrics::histogram!("prognos_model_load_seconds", "model" => model.card.name.clone()).record(secs);
        tracing::info!(model = %model.card.id(), seconds = secs, "model loaded and warmed");
        Ok(model)
    }

    /// The card.
    pub fn card(&self) -> &Arc<ModelCard> {
        &self.card
    }

    /// The folder it was loaded from.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Number of features per row.
    pub fn width(&self) -> usize {
        self.card.input.features.len()
    }

    /// Scores `rows` rows of row-major features; returns `rows x classes` probabilities in card class order.
    pub fn run(&mut self, values: &[f32], rows: usize) -> Result<Vec<f32>> {
        let width = self.width();
        if values.len() != rows * width {
            return Err(ScoringError::Input(format!(
                "batch has {} values, expected {rows} rows x {width} features",
                values.len()
            )));
        }
        let (mut probs, _) = self.run_inner(values, rows, false)?;
        // Tree ensembles can land a few ulp outside [0, 1] (-1.2e-7, 1.0000001); a health score is 0..100.
        for p in &mut probs {
            *p = p.clamp(0.0, 1.0);
        }
        Ok(probs)
    }

    fn inference_error(&self, reason: impl std::fmt::Display) -> ScoringError {
        ScoringError::Inference { model: self.card.id(), reason: reason.to_string() }
    }

    /// Runs the graph; also returns the label output as text when asked and present.
    fn run_inner(&mut self, values: &[f32], rows: usize, labels: bool) -> Result<(Vec<f32>, Option<Vec<String>>)> {
        let width = self.width();
        let input_name = self.card.input.name.clone();
        let widened: Vec<f64>;
        let input = match self.card.input.dtype {
            InputDtype::Float32 => {
                TensorRef::from_array_view(([rows, width], values)).map(ort::session::SessionInputValue::from)
            }
            InputDtype::Float64 => {
                widened = values.iter().map(|&v| f64::from(v)).collect();
                TensorRef::from_array_view(([rows, width], widened.as_slice()))
                    .map(ort::session::SessionInputValue::from)
            }
        }
        .map_err(|e| self.inference_error(e))?;
        let card = Arc::clone(&self.card);
        let reader = self.reader;
        let inputs = vec![(std::borrow::Cow::from(input_name), input)];
        let outputs = if labels {
            self.session.run(inputs)
        } else {
            self.session.run_with_options(inputs, &self.probabilities_only)
        }
        .map_err(|e| ScoringError::Inference { model: card.id(), reason: e.to_string() })?;
        let err = |reason: String| ScoringError::Inference { model: card.id(), reason };
        let value = outputs
            .get(&card.output.name)
            .ok_or_else(|| err(format!("output {:?} missing from the run", card.output.name)))?;
        let classes = card.output.classes.len();
        let mut probs = vec![0f32; rows * classes];
        match reader {
            OutputReader::Columns | OutputReader::Sigmoid => {
                let widened: Vec<f32>;
                let (shape, data) = match value.dtype() {
                    ValueType::Tensor { ty: ort::value::TensorElementType::Float64, .. } => {
                        let (shape, data) = value.try_extract_tensor::<f64>().map_err(|e| err(e.to_string()))?;
                        widened = data.iter().map(|&v| v as f32).collect();
                        (shape, widened.as_slice())
                    }
                    _ => value.try_extract_tensor::<f32>().map_err(|e| err(e.to_string()))?,
                };
                let cols = if reader == OutputReader::Sigmoid { 1 } else { classes };
                if data.len() != rows * cols {
                    return Err(err(format!(
                        "output {:?} has shape {shape:?}; expected {rows} rows x {cols} columns",
                        card.output.name
                    )));
                }
                if reader == OutputReader::Sigmoid {
                    for (row, &p) in data.iter().enumerate() {
                        probs[row * 2] = 1.0 - p;
                        probs[row * 2 + 1] = p;
                    }
                } else {
                    probs.copy_from_slice(data);
                }
            }
            OutputReader::ZipMapInt | OutputReader::ZipMapString => {
                let maps = value.try_extract_sequence::<DynMapValueType>().map_err(|e| err(e.to_string()))?;
                if maps.len() != rows {
                    return Err(err(format!("ZipMap output has {} maps for {rows} rows", maps.len())));
                }
                for (row, map) in maps.iter().enumerate() {
                    let pairs: Vec<(String, f32)> = if reader == OutputReader::ZipMapInt {
                        map.try_extract_key_values::<i64, f32>()
                            .map_err(|e| err(e.to_string()))?
                            .into_iter()
                            .map(|(k, v)| (k.to_string(), v))
                            .collect()
                    } else {
                        map.try_extract_key_values::<String, f32>().map_err(|e| err(e.to_string()))?
                    };
                    if pairs.len() != classes {
                        return Err(err(format!(
                            "ZipMap keys {:?} do not match card output.classes {:?}",
                            pairs.iter().map(|(k, _)| k).collect::<Vec<_>>(),
                            card.output.classes
                        )));
                    }
                    for (key, p) in pairs {
                        let Some(&col) = self.key_columns.get(&key) else {
                            return Err(err(format!(
                                "ZipMap key {key:?} is not one of card output.classes {:?}",
                                card.output.classes
                            )));
                        };
                        probs[row * classes + col] = p;
                    }
                }
            }
        }
        let label_text = match (&card.output.label_output, labels) {
            (Some(name), true) => outputs.get(name).map(|v| match v.dtype() {
                ValueType::Tensor { ty: ort::value::TensorElementType::Int64, .. } => v
                    .try_extract_tensor::<i64>()
                    .map(|(_, d)| d.iter().map(i64::to_string).collect())
                    .unwrap_or_default(),
                _ => v.try_extract_strings().map(|(_, s)| s).unwrap_or_default(),
            }),
            _ => None,
        };
        Ok((probs, label_text))
    }

    /// Runs a few rows through the session before the model is reported ready, and checks that what comes out
    /// is a probability distribution in the card's class order.
    fn warm_up(&mut self) -> Result<()> {
        let width = self.width();
        let patterns: [fn(usize) -> f32; 4] = [|_| 0.0, |_| 1.0, |i| -(i as f32), |i| (i as f32) * 0.5];
        let values: Vec<f32> = patterns.iter().flat_map(|p| (0..width).map(p)).collect();
        let rows = patterns.len();
        let (probs, labels) = self.run_inner(&values, rows, true)?;
        let classes = self.card.output.classes.len();
        let mismatch = |detail: String| ScoringError::Mismatch { model: self.card.id(), detail };
        for (row, p) in probs.chunks(classes).enumerate() {
            let sum: f32 = p.iter().sum();
            if p.iter().any(|v| !v.is_finite() || *v < -1e-4 || *v > 1.0 + 1e-4) || (sum - 1.0).abs() > 1e-3 {
                return Err(mismatch(format!(
                    "output {:?} is not a probability distribution (warm-up row {row}: {p:?})",
                    self.card.output.name
                )));
            }
            if let Some(labels) = &labels {
                let mut order: Vec<usize> = (0..classes).collect();
                order.sort_by(|&a, &b| p[b].total_cmp(&p[a]));
                let (best, second) = (order[0], order[1]);
                let label = labels.get(row);
                if p[best] - p[second] > 1e-3 && label.is_some_and(|l| l != &self.card.output.classes[best]) {
                    return Err(mismatch(format!(
                        "card output.classes order disagrees with the graph: warm-up row {row} has the highest \
                         probability in column {best} ({:?}) but the label output says {:?}",
                        self.card.output.classes[best],
                        label.map(String::as_str).unwrap_or("")
                    )));
                }
            }
        }
        Ok(())
    }
}

/// A card must sit in `models/<name>/<version>/`.
fn check_folder_names(dir: &Path, card: &ModelCard) -> Result<()> {
    let version_dir = dir.file_name().and_then(|n| n.to_str()).unwrap_or_default();
    let name_dir = dir.parent().and_then(|p| p.file_name()).and_then(|n| n.to_str()).unwrap_or_default();
    if version_dir != card.version || name_dir != card.name {
        return Err(ScoringError::Card {
            path: dir.join(CARD_FILE),
            reason: format!(
                "card says {} but the folder is {name_dir}/{version_dir}; a model lives in models/<name>/<version>/",
                card.id()
            ),
        });
    }
    Ok(())
}
