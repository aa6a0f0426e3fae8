//! `prognos models ...` (list and validate offline; versions, activate, rollback, shadow, promote and reload
//! through the running service's API), `prognos inspections ...` and `prognos export training-data`.

use std::path::Path;
use std::process::ExitCode;

use prognos_core::Settings;
use prognos_scoring::Model;
use prognos_store::{NewInspection, Store};
use serde_json::{json, Value};

use crate::cli::{ExportCommand, InspectionsCommand, ModelsCommand};
use crate::model_ops::export::ExportOptions;
use crate::startup::session_options;

/// Where the running service is, and the token to use (role data-scientist or admin for changes).
#[derive(Debug, Clone, clap::Args)]
pub struct ApiArgs {
    /// The service's base URL (default: http://<server.host>:<server.port>).
    #[arg(long, env = "PROGNOS_URL")]
    pub url: Option<String>,
    /// An API token.
    #[arg(long, env = "PROGNOS_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
}

/// Runs a `prognos models` subcommand.
pub fn run(settings: &Settings, command: ModelsCommand) -> anyhow::Result<ExitCode> {
    use reqwest::Method;
    let (method, path, body, api) = match command {
        ModelsCommand::List => return list(settings),
        ModelsCommand::Validate { path } => return validate(settings, &path),
        ModelsCommand::Versions { name, api } => (Method::GET, format!("/v1/models/{name}/versions"), None, api),
        ModelsCommand::Activate { name, version, api } => {
            (Method::POST, format!("/v1/models/{name}/activate"), Some(json!({ "version": version })), api)
        }
        ModelsCommand::Rollback { name, api } => (Method::POST, format!("/v1/models/{name}/rollback"), None, api),
        ModelsCommand::Shadow { name, version: Some(v), api, .. } => {
            (Method::POST, format!("/v1/models/{name}/shadow"), Some(json!({ "version": v })), api)
        }
        ModelsCommand::Shadow { name, stop: true, api, .. } => {
            (Method::DELETE, format!("/v1/models/{name}/shadow"), None, api)
        }
        ModelsCommand::Shadow { name, api, .. } => (Method::GET, format!("/v1/models/{name}/shadow"), None, api),
        ModelsCommand::Promote { name, api } => (Method::POST, format!("/v1/models/{name}/promote"), None, api),
        ModelsCommand::Reload { name, api } => {
            (Method::POST, "/v1/models/reload".to_string(), Some(json!({ "model": name })), api)
        }
    };
    call(settings, &api, method, &path, body)
}

/// One API call; prints the JSON answer. Exit 0 on success, 3 when the service refused, 1 when unreachable.
fn call(
    settings: &Settings,
    api: &ApiArgs,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> anyhow::Result<ExitCode> {
    let base = api.url.clone().unwrap_or_else(|| format!("http://{}:{}", settings.server.host, settings.server.port));
    let token = api.token.clone().ok_or_else(|| anyhow::anyhow!("no token: pass --token or set PROGNOS_TOKEN"))?;
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    runtime.block_on(async {
        let client = reqwest::Client::new();
        let mut req = client.request(method, format!("{}{path}", base.trim_end_matches('/'))).bearer_auth(token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.map_err(|e| anyhow::anyhow!("cannot reach the service at {base}: {e}"))?;
        let status = resp.status();
        let text = resp.text().await?;
        let pretty = serde_json::from_str::<Value>(&text)
            .ok()
            .and_then(|v| serde_json::to_string_pretty(&v).ok())
            .unwrap_or(text);
        if status.is_success() {
            println!("{pretty}");
            Ok(ExitCode::SUCCESS)
        } else {
            eprintln!("{status}: {pretty}");
            Ok(ExitCode::from(3))
        }
    })
}

/// Runs a `prognos inspections` subcommand against the store.
pub fn inspections(settings: &Settings, command: InspectionsCommand) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    runtime.block_on(async {
        let store = Store::connect(&settings.store_url()).await?;
        let result = match command {
            InspectionsCommand::Record { asset, outcome, at, severity, notes, kind, by } => {
                let inspection = NewInspection {
                    asset_kind: crate::model_ops::inspections::parse_kind(Some(kind.as_str()))
                        .map_err(anyhow::Error::msg)?,
                    asset_id: asset,
                    inspected_at: at.unwrap_or_else(chrono::Utc::now),
                    outcome,
                    severity,
                    notes,
                    recorded_by: by,
                };
                store.record_inspection(&inspection).await.map(|id| println!("recorded inspection {id}"))
            }
            InspectionsCommand::List { asset, limit } => store.inspections(asset.as_deref(), limit).await.map(|rows| {
                for r in rows {
                    let severity = r.severity.map(|s| format!(" severity {s}")).unwrap_or_default();
                    println!(
                        "{} {} {} {}{severity} (by {}) {}",
                        r.id, r.inspected_at, r.asset_id, r.outcome, r.recorded_by, r.notes
                    );
                }
            }),
        };
        store.close().await;
        result?;
        Ok(ExitCode::SUCCESS)
    })
}

/// Runs a `prognos export` subcommand.
pub fn export(settings: &Settings, command: ExportCommand) -> anyhow::Result<ExitCode> {
    let ExportCommand::TrainingData { out, file_name, feature_set, max_age_hours, failure_severity } = command;
    crate::model_ops::export::run(
        settings,
        &ExportOptions { out, file_name, feature_set, max_age_hours, failure_severity },
    )
}

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
