//! `prognos ingest --pipeline P FILE...`: CSV files through an inverter pipeline's one path (the same as the
//! drop folder, HTTP and MQTT), printing accepted / duplicate / rejected counts with reasons per file.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use prognos_core::{PipelineFile, PipelineKind, Settings};
use prognos_scoring::ModelSet;
use prognos_store::Store;

use crate::ingest::inverters::{IngestError, InverterPipeline};
use crate::startup::{session_options, worker_options};

/// Finds the pipeline: a path to a TOML file, or the name of one in `pipelines.dir`.
pub fn find_pipeline(settings: &Settings, pipeline: &str) -> anyhow::Result<PipelineFile> {
    let as_path = Path::new(pipeline);
    let file = if as_path.extension().is_some_and(|e| e == "toml") || as_path.is_file() {
        PipelineFile::load(as_path)?
    } else {
        PipelineFile::load_dir(&settings.pipelines.dir)?
            .into_iter()
            .map(|(_, f)| f)
            .find(|f| f.pipeline.name == pipeline)
            .with_context(|| format!("no pipeline named {pipeline:?} in {}", settings.pipelines.dir.display()))?
    };
    anyhow::ensure!(
        file.pipeline.kind == PipelineKind::InverterMetrics,
        "pipeline {} is not an inverter-metrics pipeline",
        file.pipeline.name
    );
    Ok(file)
}

/// Loads the pipeline's model alone (highest version that validates); `None` when there is none.
pub fn load_model(settings: &Settings, name: &str) -> Arc<ModelSet> {
    let models = Arc::new(ModelSet::default());
    let entries = match prognos_scoring::scan(&settings.models.dir) {
        Ok(e) => e,
        Err(e) => {
            eprintln!("note: cannot read the model registry: {e}");
            return models;
        }
    };
    for entry in entries.into_iter().filter(|e| e.name == name && e.card.is_ok()) {
        match prognos_scoring::serve(&entry.dir, &session_options(settings), worker_options(settings)) {
            Ok(handle) => models.insert(handle),
            Err(e) => eprintln!("note: model {} refused: {e}", entry.dir.display()),
        }
    }
    models
}

/// Runs the command; exit 1 when a file was refused as a whole (the others are still ingested).
pub fn run(settings: &Settings, pipeline: &str, files: &[PathBuf], json: bool) -> anyhow::Result<ExitCode> {
    let file = find_pipeline(settings, pipeline)?;
    let models = load_model(settings, &file.model.name);
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    runtime.block_on(async {
        let store = Store::connect(&settings.store_url()).await.map_err(|e| {
            anyhow::anyhow!("cannot open the store {}: {e}", crate::startup::redact_url(&settings.store_url()))
        })?;
        let name = file.pipeline.name.clone();
        let p = InverterPipeline::new(file, &std::env::current_dir()?, store.clone(), models)
            .map_err(|e| anyhow::anyhow!("pipeline {name}: {e}"))?;
        let mut failed = false;
        for path in files {
            let started = std::time::Instant::now();
            match p.ingest_csv_file(path).await {
                Ok(report) => {
                    if json {
                        println!("{}", serde_json::to_string(&report)?);
                    } else {
                        println!(
                            "{}: {} ({:.0} ms)",
                            path.display(),
                            report.summary(),
                            started.elapsed().as_secs_f64() * 1e3
                        );
                    }
                }
                Err(IngestError::Format(e)) => {
                    failed = true;
                    eprintln!("{}: refused: {e}", path.display());
                }
                Err(e) => {
                    store.close().await;
                    return Err(anyhow::anyhow!("{}: {e}", path.display()));
                }
            }
        }
        store.close().await;
        Ok(if failed { ExitCode::FAILURE } else { ExitCode::SUCCESS })
    })
}
