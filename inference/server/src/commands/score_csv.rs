//! `prognos score --model NAME[@VERSION] FILE.csv`: the same rows out, with score columns appended.
//!
//! Rows whose features are missing or not finite numbers are rejected (reason and line on standard error,
//! counted in the summary) while good rows are scored. Exit status: 0 all rows scored, 3 some rejected.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use prognos_core::Settings;
use prognos_scoring::{Model, ModelCard};

use crate::startup::session_options;

/// Resolves `NAME` (highest version that has a card) or `NAME@VERSION` to a folder in the registry.
pub fn resolve_dir(settings: &Settings, spec: &str) -> anyhow::Result<std::path::PathBuf> {
    let (name, version) = match spec.split_once('@') {
        Some((n, v)) => (n, Some(v)),
        None => (spec, None),
    };
    let entries = prognos_scoring::scan(&settings.models.dir)?;
    entries
        .into_iter()
        .rfind(|e| e.name == name && e.card.is_ok() && version.is_none_or(|v| v == e.version))
        .map(|e| e.dir)
        .with_context(|| format!("no model {spec} in {}", settings.models.dir.display()))
}

/// Runs the command.
pub fn run(settings: &Settings, spec: &str, file: &Path, output: Option<&Path>) -> anyhow::Result<ExitCode> {
    let dir = resolve_dir(settings, spec)?;
    let mut model = Model::load(&dir, &session_options(settings))?;
    let card: ModelCard = (**model.card()).clone();
    let mut reader = csv::Reader::from_path(file).with_context(|| format!("cannot read {}", file.display()))?;
    let headers = reader.headers()?.clone();
    let columns: Vec<usize> = card
        .input
        .features
        .iter()
        .map(|f| {
            headers
                .iter()
                .position(|h| h == f)
                .with_context(|| format!("{} has no column {f:?}, which model {} needs", file.display(), card.id()))
        })
        .collect::<anyhow::Result<_>>()?;
    let sink: Box<dyn Write> = match output {
        Some(p) => Box::new(std::fs::File::create(p).with_context(|| format!("cannot write {}", p.display()))?),
        None => Box::new(std::io::stdout().lock()),
    };
    let mut writer = csv::Writer::from_writer(std::io::BufWriter::new(sink));
    let mut out_header = headers.clone();
    out_header.push_field("health_score");
    for class in &card.output.classes {
        out_header.push_field(&format!("p_{class}"));
    }
    out_header.push_field("model_version");
    writer.write_record(&out_header)?;

    let chunk = settings.models.max_batch_rows.max(1);
    let width = columns.len();
    let model_id = card.id();
    let healthy = card.healthy_index();
    let (mut scored, mut rejected) = (0usize, 0usize);
    let mut pending: Vec<csv::StringRecord> = Vec::with_capacity(chunk);
    let mut values: Vec<f32> = Vec::with_capacity(chunk * width);
    let mut flush = |pending: &mut Vec<csv::StringRecord>,
                     values: &mut Vec<f32>,
                     writer: &mut csv::Writer<_>|
     -> anyhow::Result<()> {
        if pending.is_empty() {
            return Ok(());
        }
        let probs = model.run(values, pending.len())?;
        let classes = card.output.classes.len();
        for (record, p) in pending.iter_mut().zip(probs.chunks(classes)) {
            record.push_field(&format!("{:.4}", p[healthy] * 100.0));
            for v in p {
                record.push_field(&format!("{v:.6}"));
            }
            record.push_field(&model_id);
            writer.write_record(&*record)?;
        }
        scored += pending.len();
        pending.clear();
        values.clear();
        Ok(())
    };
    for (i, record) in reader.records().enumerate() {
        let line = i + 2;
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                rejected += 1;
                eprintln!("line {line}: rejected: {e}");
                continue;
            }
        };
        let start = values.len();
        let mut error = None;
        for (&col, name) in columns.iter().zip(&card.input.features) {
            match record.get(col).map(str::trim).unwrap_or("").parse::<f32>() {
                Ok(v) if v.is_finite() => values.push(v),
                Ok(v) => {
                    error = Some(format!("feature {name:?} is {v}, not a finite number"));
                    break;
                }
                Err(_) => {
                    error = Some(format!("feature {name:?} is {:?}, not a number", record.get(col).unwrap_or("")));
                    break;
                }
            }
        }
        if let Some(reason) = error {
            values.truncate(start);
            rejected += 1;
            eprintln!("line {line}: rejected: {reason}");
            continue;
        }
        pending.push(record);
        if pending.len() == chunk {
            flush(&mut pending, &mut values, &mut writer)?;
        }
    }
    flush(&mut pending, &mut values, &mut writer)?;
    writer.flush()?;
    eprintln!("prognos: scored {scored} rows with {model_id}; rejected {rejected}");
    Ok(if rejected == 0 { ExitCode::SUCCESS } else { ExitCode::from(3) })
}
