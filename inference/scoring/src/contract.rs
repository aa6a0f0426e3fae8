//! The model contract: checks an ONNX graph's inputs and outputs against its card, and the card against the
//! feature schema of the pipeline that feeds it. Everything that does not fit is refused with the exact mismatch.

use ort::value::{Outlet, TensorElementType, ValueType};

use crate::card::{InputDtype, ModelCard, OutputKind};

/// How probabilities are read from the graph's output, decided once at load time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputReader {
    /// A float tensor with one column per class (`[N, C]`).
    Columns,
    /// A float tensor with one column (`[N, 1]` or `[N]`): P(`classes[1]`).
    Sigmoid,
    /// `seq(map(int64, float))`.
    ZipMapInt,
    /// `seq(map(string, float))`.
    ZipMapString,
}

fn describe(ty: &ValueType) -> String {
    match ty {
        ValueType::Tensor { ty, shape, .. } => format!("tensor({ty:?}) {shape:?}"),
        ValueType::Sequence(inner) => format!("seq({})", describe(inner)),
        ValueType::Map { key, value } => format!("map({key:?}, {value:?})"),
        ValueType::Optional(inner) => format!("optional({})", describe(inner)),
    }
}

fn names(outlets: &[Outlet]) -> String {
    outlets.iter().map(|o| format!("{:?}", o.name())).collect::<Vec<_>>().join(", ")
}

/// Checks the graph's only input against the card.
pub fn check_input(card: &ModelCard, inputs: &[Outlet]) -> Result<(), String> {
    let spec = &card.input;
    let Some(input) = inputs.iter().find(|i| i.name() == spec.name) else {
        return Err(format!(
            "card input.name {:?} is not an input of the graph; the graph's inputs are [{}]",
            spec.name,
            names(inputs)
        ));
    };
    if inputs.len() != 1 {
        return Err(format!(
            "the graph has {} inputs [{}]; prognos feeds exactly one feature matrix",
            inputs.len(),
            names(inputs)
        ));
    }
    let ValueType::Tensor { ty, shape, .. } = input.dtype() else {
        return Err(format!("graph input {:?} is {}, not a tensor", spec.name, describe(input.dtype())));
    };
    let want = match spec.dtype {
        InputDtype::Float32 => TensorElementType::Float32,
        InputDtype::Float64 => TensorElementType::Float64,
    };
    if *ty != want {
        return Err(format!(
            "dtype mismatch: card input.dtype is {:?} but graph input {:?} is {ty:?}",
            spec.dtype, spec.name
        ));
    }
    if shape.len() != 2 {
        return Err(format!(
            "graph input {:?} has shape {shape:?}; prognos feeds a matrix [rows, features]",
            spec.name
        ));
    }
    let width = shape[1];
    if width >= 0 && width as usize != spec.features.len() {
        return Err(format!(
            "feature count mismatch: card lists {} features but graph input {:?} takes {width}",
            spec.features.len(),
            spec.name
        ));
    }
    Ok(())
}

/// Checks the probability output (and the optional label output) and decides how to read it.
pub fn check_outputs(card: &ModelCard, outputs: &[Outlet]) -> Result<OutputReader, String> {
    let spec = &card.output;
    let Some(output) = outputs.iter().find(|o| o.name() == spec.name) else {
        return Err(format!(
            "card output.name {:?} is not an output of the graph; the graph's outputs are [{}]",
            spec.name,
            names(outputs)
        ));
    };
    if let Some(label) = &spec.label_output {
        if !outputs.iter().any(|o| o.name() == label) {
            return Err(format!(
                "card output.label_output {label:?} is not an output of the graph; the graph's outputs are [{}]",
                names(outputs)
            ));
        }
    }
    let classes = spec.classes.len();
    match (spec.kind, output.dtype()) {
        (OutputKind::Tensor, ValueType::Tensor { ty, shape, .. }) => {
            if !matches!(ty, TensorElementType::Float32 | TensorElementType::Float64) {
                return Err(format!(
                    "output {:?} is a {ty:?} tensor; probabilities must be float32 or float64",
                    spec.name
                ));
            }
            match shape.len() {
                1 if classes == 2 => Ok(OutputReader::Sigmoid),
                2 if shape[1] == 1 && classes == 2 => Ok(OutputReader::Sigmoid),
                2 if shape[1] < 0 || shape[1] as usize == classes => Ok(OutputReader::Columns),
                _ => Err(format!(
                    "class count mismatch: card lists {classes} classes but output {:?} has shape {shape:?}",
                    spec.name
                )),
            }
        }
        (OutputKind::Zipmap, ValueType::Sequence(inner)) => match inner.as_ref() {
            ValueType::Map { key: TensorElementType::Int64, value: TensorElementType::Float32 } => {
                Ok(OutputReader::ZipMapInt)
            }
            ValueType::Map { key: TensorElementType::String, value: TensorElementType::Float32 } => {
                Ok(OutputReader::ZipMapString)
            }
            other => Err(format!(
                "output {:?} is seq({}); a ZipMap output is seq(map(int64|string, float))",
                spec.name,
                describe(other)
            )),
        },
        (kind, ty) => Err(format!("card output.kind is {kind:?} but graph output {:?} is {}", spec.name, describe(ty))),
    }
}

/// Checks that a pipeline producing `available` features can feed the model: every feature the card needs must
/// be produced (the pipeline reorders by name, so extra features are fine).
pub fn check_feature_schema(card: &ModelCard, schema_name: &str, available: &[&str]) -> Result<(), String> {
    let missing: Vec<&str> =
        card.input.features.iter().map(String::as_str).filter(|f| !available.contains(f)).collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "the model needs features that feature set {schema_name:?} does not produce: {}",
            missing.join(", ")
        ))
    }
}
