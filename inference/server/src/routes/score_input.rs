//! Turning a scoring request body into a feature batch, refusing whatever does not fit with a message that
//! names the row and the feature.
//!
//! Body: `{"rows": [ROW, ...]}` where each ROW is either an object `{"feature": number, ...}` (by name; every
//! feature of the model, no others) or an array of numbers in the card's feature order.

use prognos_scoring::{FeatureBatch, ModelCard};
use serde::Deserialize;
use serde_json::Value;

use crate::api_error::ApiError;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ScoreRequest {
    rows: Vec<Value>,
}

fn invalid(code: &'static str, message: String) -> ApiError {
    ApiError::Invalid { code, message }
}

/// A JSON parse error, naming non-finite literals (`NaN`, `Infinity`) that JSON cannot carry.
fn malformed(body: &[u8], err: &serde_json::Error) -> ApiError {
    let line = body.split(|&b| b == b'\n').nth(err.line().saturating_sub(1)).unwrap_or_default();
    let at = line.get(err.column().saturating_sub(1)..).unwrap_or_default();
    for literal in ["NaN", "Infinity", "-Infinity", "inf", "-inf", "nan"] {
        if at.starts_with(literal.as_bytes()) {
            return invalid(
                "non_finite_value",
                format!("{literal} at line {} column {}: features must be finite numbers", err.line(), err.column()),
            );
        }
    }
    ApiError::MalformedJson(format!("the body is not valid JSON of the form {{\"rows\": [...]}}: {err}"))
}

fn number(row: usize, feature: &str, value: &Value) -> Result<f32, ApiError> {
    let Some(v) = value.as_f64() else {
        let what = match value {
            Value::Null => "null".to_string(),
            Value::String(s) => format!("the string {s:?}"),
            Value::Bool(b) => format!("{b}"),
            other => format!("{}", other),
        };
        return Err(invalid("invalid_value", format!("row {row}, feature {feature:?}: expected a number, got {what}")));
    };
    let v32 = v as f32;
    if !v32.is_finite() {
        return Err(invalid(
            "non_finite_value",
            format!("row {row}, feature {feature:?}: {v} does not fit a finite 32-bit float"),
        ));
    }
    Ok(v32)
}

/// Parses and checks the body against the model's card.
pub fn parse_rows(body: &[u8], card: &ModelCard, max_rows: usize) -> Result<FeatureBatch, ApiError> {
    let request: ScoreRequest = serde_json::from_slice(body).map_err(|e| malformed(body, &e))?;
    let features = &card.input.features;
    let width = features.len();
    if request.rows.is_empty() {
        return Err(invalid("empty_batch", "rows is empty: send at least one row".into()));
    }
    if request.rows.len() > max_rows {
        return Err(invalid(
            "too_many_rows",
            format!("{} rows in one request; at most {max_rows} (server.max_rows_per_request)", request.rows.len()),
        ));
    }
    let mut values = Vec::with_capacity(request.rows.len() * width);
    for (i, row) in request.rows.iter().enumerate() {
        match row {
            Value::Array(items) => {
                if items.len() != width {
                    return Err(invalid(
                        "wrong_feature_count",
                        format!(
                            "row {i} has {} values; model {} takes {width} features in this order: {}",
                            items.len(),
                            card.id(),
                            features.join(", ")
                        ),
                    ));
                }
                for (item, name) in items.iter().zip(features) {
                    values.push(number(i, name, item)?);
                }
            }
            Value::Object(map) => {
                for name in features {
                    let item = map.get(name).ok_or_else(|| {
                        invalid("missing_feature", format!("row {i}: missing feature {name:?} (model {})", card.id()))
                    })?;
                    values.push(number(i, name, item)?);
                }
                if map.len() != width {
                    let unknown: Vec<&str> =
                        map.keys().map(String::as_str).filter(|k| !features.iter().any(|f| f == k)).collect();
                    return Err(invalid(
                        "unknown_feature",
                        format!("row {i}: model {} has no feature {}", card.id(), unknown.join(", ")),
                    ));
                }
            }
            _ => {
                return Err(invalid(
                    "invalid_row",
                    format!("row {i} is neither an object of features nor an array of values"),
                ))
            }
        }
    }
    Ok(FeatureBatch { rows: request.rows.len(), values })
}

#[cfg(test)]
mod tests {
    use super::*;

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
healthy_class = "0"
"#,
        )
        .unwrap()
    }

    fn code(body: &str) -> (&'static str, String) {
        match parse_rows(body.as_bytes(), &card(), 3).unwrap_err() {
            ApiError::Invalid { code, message } => (code, message),
            ApiError::MalformedJson(m) => ("malformed_json", m),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn accepts_named_and_ordered_rows_in_card_order() {
        let b = parse_rows(br#"{"rows": [{"b": 2, "a": 1.5}, [3, 4]]}"#, &card(), 3).unwrap();
        assert_eq!(b.rows, 2);
        assert_eq!(b.values, vec![1.5, 2.0, 3.0, 4.0]);
    }

    #[test]
    fn names_every_rejection() {
        assert_eq!(code("{\"rows\": [{\"a\": 1}]}").0, "missing_feature");
        assert!(code("{\"rows\": [{\"a\": 1}]}").1.contains("\"b\""));
        assert_eq!(code("{\"rows\": [{\"a\": 1, \"b\": 2, \"c\": 3}]}").0, "unknown_feature");
        assert_eq!(code("{\"rows\": [[1]]}").0, "wrong_feature_count");
        assert_eq!(code("{\"rows\": [[1, null]]}").0, "invalid_value");
        assert_eq!(code("{\"rows\": [[1, \"2\"]]}").0, "invalid_value");
        assert_eq!(code("{\"rows\": [[1, NaN]]}").0, "non_finite_value");
        assert_eq!(code("{\"rows\": [[1, -Infinity]]}").0, "non_finite_value");
        assert_eq!(code("{\"rows\": [[1, 1e39]]}").0, "non_finite_value");
        assert_eq!(code("{\"rows\": []}").0, "empty_batch");
        assert_eq!(code("{\"rows\": [[1,2],[1,2],[1,2],[1,2]]}").0, "too_many_rows");
        assert_eq!(code("{\"rows\": [7]}").0, "invalid_row");
        assert_eq!(code("{\"rows\": [[1,2]").0, "malformed_json");
        assert_eq!(code("{\"row\": [[1,2]]}").0, "malformed_json");
    }
}
