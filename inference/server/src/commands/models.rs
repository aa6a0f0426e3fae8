//! `prognos models list|validate`.

use std::path::Path;
use std::process::ExitCode;

use prognos_core::Settings;
use prognos_scoring::Model;

use crate::startup::session_options;

/// Lists every version in the registry with its contract, loading each to check it validates.
pub fn list(settings: &Settings) -> anyhow::Result<ExitCode> {
    let entries = prognos_scoring::scan(&settings.models.dir)?;
    if entries.is_empty() {
        println!("no models in {}", settings.models.dir.display());
    }
    let opts = session_options(settings);
    let mut bad = 0;
    for entry in entries {
        let status = match Model::load(&entry.dir, &opts) {
            Ok(model) => {
                let c = model.card();
                format!(
                    "ok  {} features -> {:?} (healthy {:?}), threshold {}, {}",
                    c.input.features.len(),
                    c.output.classes,
                    c.output.healthy_class,
                    c.alert.threshold,
                    c.provenance.framework
                )
            }
            Err(e) => {
                bad += 1;
                format!("REFUSED: {e}")
            }
        };
        println!("{}@{}  {status}", entry.name, entry.version);
    }
    Ok(if bad == 0 { ExitCode::SUCCESS } else { ExitCode::from(3) })
}

/// Validates one version folder; exit 0 when the service would serve it.
pub fn validate(settings: &Settings, path: &Path) -> anyhow::Result<ExitCode> {
    match Model::load(path, &session_options(settings)) {
        Ok(model) => {
            let c = model.card();
            println!(
                "ok: {} takes {} features ({}) and gives {:?}; health = P({:?}) x 100",
                c.id(),
                c.input.features.len(),
                c.input.features.join(", "),
                c.output.classes,
                c.output.healthy_class
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprintln!("refused: {e}");
            Ok(ExitCode::from(3))
        }
    }
}
