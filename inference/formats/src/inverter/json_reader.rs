//! JSON batches: one reading object, an array of them, or `{"readings": [...]}`. Keys are the site's column
//! names (as in its CSV files); values are numbers, numeric strings or null.

use std::sync::Arc;

use prognos_core::Reading;
use serde_json::{Map, Value};

use super::report::{ParseReport, Reason};
use super::rows::{Cell, RowState};
use super::{FormatError, Mapping};

fn cell(v: Option<&Value>) -> Cell<'_> {
    match v {
        None | Some(Value::Null) => Cell::Empty,
        Some(Value::Number(n)) => n.as_f64().map(Cell::Num).unwrap_or(Cell::Empty),
        Some(Value::String(s)) => Cell::Text(s),
        Some(Value::Bool(_)) | Some(Value::Array(_)) | Some(Value::Object(_)) => Cell::Text("<not a scalar>"),
    }
}

pub(crate) fn read(mapping: Arc<Mapping>, bytes: &[u8]) -> Result<(Vec<Reading>, ParseReport), FormatError> {
    let value: Value = serde_json::from_slice(bytes).map_err(|e| FormatError::Json(e.to_string()))?;
    let items = match value {
        Value::Array(items) => items,
        Value::Object(mut obj) => match obj.remove("readings") {
            Some(Value::Array(items)) if obj.is_empty() => items,
            Some(_) => return Err(FormatError::Json("\"readings\" must be the only key, holding an array".into())),
            None => vec![Value::Object(obj)],
        },
        _ => return Err(FormatError::Json("expected a reading object, an array, or {\"readings\": [...]}".into())),
    };
    let mut state = RowState::new(Arc::clone(&mapping))?;
    let src = mapping.source();
    let mut out = Vec::with_capacity(items.len());
    let mut unknown: Vec<String> = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let row = i as u64 + 1;
        let Value::Object(obj) = item else {
            state.report.rows += 1;
            state.report.reject(row, Reason::Malformed, || "not a JSON object".into());
            continue;
        };
        for name in mapping.unknown(obj.keys().map(String::as_str))? {
            if !unknown.contains(&name) {
                unknown.push(name);
            }
        }
        if let Some(missing) = missing_required(obj, &mapping) {
            state.report.rows += 1;
            state.report.reject(row, Reason::MissingColumn, || format!("no {missing:?}"));
            continue;
        }
        let ts = cell(obj.get(&src.timestamp.column));
        let asset = src.asset_column.as_ref().map(|c| cell(obj.get(c))).unwrap_or(Cell::Empty);
        let cells = src.columns.iter().map(|c| (c, cell(obj.get(&c.source))));
        if let Some(r) = state.row(row, ts, asset, cells) {
            out.push(r);
        }
    }
    state.report.unknown_columns = unknown;
    Ok((out, state.finish()))
}

fn missing_required<'a>(obj: &Map<String, Value>, mapping: &'a Mapping) -> Option<&'a str> {
    let src = mapping.source();
    if !obj.contains_key(&src.timestamp.column) {
        return Some(&src.timestamp.column);
    }
    if let Some(c) = &src.asset_column {
        if !obj.contains_key(c) {
            return Some(c);
        }
    }
    src.columns.iter().find(|c| c.required && !obj.contains_key(&c.source)).map(|c| c.source.as_str())
}
