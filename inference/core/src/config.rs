//! Layered configuration: built-in defaults, then `prognos.toml` (or the file given with `--config`), then
//! environment variables `PROGNOS__SECTION__KEY` (for example `PROGNOS__SERVER__PORT=9000`).
//!
//! Every field is documented here; the README's configuration reference mirrors these docs.

use std::path::{Path, PathBuf};

use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use serde::{Deserialize, Serialize};

/// The configuration file read when none is named.
pub const DEFAULT_CONFIG_FILE: &str = "prognos.toml";

/// Configuration could not be assembled.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file named with `--config` does not exist.
    #[error("configuration file {0} does not exist")]
    MissingFile(PathBuf),
    /// A value has the wrong type, or a key is unknown.
    #[error("configuration: {0}")]
    Invalid(String),
}

/// All of Prognos's settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    /// Folder for Prognos's own state: the embedded database, the token file, archives. Default `data`.
    pub data_dir: PathBuf,
    /// The HTTP server.
    pub server: ServerSettings,
    /// The model registry and ONNX Runtime.
    pub models: ModelSettings,
    /// API tokens and roles.
    pub auth: AuthSettings,
    /// Logging.
    pub log: LogSettings,
    /// Where predictions, captures and features are stored.
    pub store: StoreSettings,
    /// Which pipelines run.
    pub pipelines: PipelineSettings,
    /// Alert routes, contacts and notifiers (read by the alerts layer; see the README's alerts section).
    pub alerts: toml::Table,
}

/// Storage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StoreSettings {
    /// `sqlite://PATH` (the embedded default: `sqlite://<data_dir>/prognos.db`) or `postgres://...`.
    pub url: Option<String>,
    /// Raw rows (predictions, feature rows, inverter readings) observed more than this many days ago are folded
    /// into daily aggregates, kept for good, and deleted. 0 (the default) keeps every raw row.
    pub retention_days: u32,
    /// How often retention runs, in seconds. Default 3600.
    pub retention_interval_s: u64,
}

impl Default for StoreSettings {
    fn default() -> Self {
        Self { url: None, retention_days: 0, retention_interval_s: 3600 }
    }
}

/// Pipelines (`pipelines/*.toml`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PipelineSettings {
    /// Folder of pipeline files. Default `pipelines`.
    pub dir: PathBuf,
    /// Pipeline names to run; empty runs every file in `dir`. Default empty.
    pub enabled: Vec<String>,
    /// Run no pipeline at all (API only). Default false.
    pub disabled: bool,
    /// Replicas on one database that watch the same camera folders claim each capture before handling it; a
    /// replica that dies holding a claim leaves its capture to the others after this many seconds. Default 60.
    pub claim_lease_s: u64,
}

impl Default for PipelineSettings {
    fn default() -> Self {
        Self { dir: PathBuf::from("pipelines"), enabled: Vec::new(), disabled: false, claim_lease_s: 60 }
    }
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("data"),
            server: ServerSettings::default(),
            models: ModelSettings::default(),
            auth: AuthSettings::default(),
            log: LogSettings::default(),
            store: StoreSettings::default(),
            pipelines: PipelineSettings::default(),
            alerts: toml::Table::new(),
        }
    }
}

/// The HTTP server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerSettings {
    /// Address to bind. Default `127.0.0.1`.
    pub host: String,
    /// Port to bind; 0 picks a free port (the chosen one is logged). Default `8080`.
    pub port: u16,
    /// Largest accepted request body, in bytes. Default 2 MiB.
    pub body_limit_bytes: usize,
    /// Most rows accepted in one scoring request. Default 10,000.
    pub max_rows_per_request: usize,
    /// Seconds that in-flight requests get to finish after SIGINT/SIGTERM. Default 10.
    pub shutdown_grace_seconds: u64,
}

impl Default for ServerSettings {
    fn default() -> Self {
        Self {
            host: "127.0.0.1".into(),
            port: 8080,
            body_limit_bytes: 2 * 1024 * 1024,
            max_rows_per_request: 10_000,
            shutdown_grace_seconds: 10,
        }
    }
}

/// The model registry and ONNX Runtime.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ModelSettings {
    /// The registry: `<dir>/<name>/<version>/{model.onnx,card.toml}`. Default `models`.
    pub dir: PathBuf,
    /// Explicit path of `libonnxruntime.so.1.31.1`. Tried first; then `ORT_DYLIB_PATH`; then `python_env`.
    pub ort_dylib_path: Option<PathBuf>,
    /// The project's Python environment, where the `onnxruntime` wheel lives. Default `.venv`.
    pub python_env: PathBuf,
    /// ONNX Runtime intra-op threads per session. Default 1.
    pub intra_threads: usize,
    /// Scoring worker threads per model (each owns a session). Default 1.
    pub workers: usize,
    /// Most rows run through the model in one batch (queued requests are batched together). Default 1,024.
    pub max_batch_rows: usize,
    /// Scoring jobs that may wait per model before requests are refused with 503. Default 4,096.
    pub queue_capacity: usize,
    /// Model names to serve; empty serves every model in `dir`. Default empty.
    pub serve: Vec<String>,
    /// Input drift is measured over this many of the newest rows each model version scored. Default 1,000.
    pub drift_window_rows: usize,
    /// Rows a version must have scored before its drift (PSI per feature) is reported. Default 200.
    pub drift_min_rows: usize,
    /// How often drift is published to `/metrics` and judged by the alert engine, in milliseconds. Default 5,000.
    pub drift_check_ms: u64,
    /// The features that pulled a capture's score down most, stored with each prediction and named in alerts
    /// (each feature set to its training median in turn, scored in the same batch); 0 turns explanations off.
    /// Default 3.
    pub explain_top: usize,
}

impl Default for ModelSettings {
    fn default() -> Self {
        Self {
            dir: PathBuf::from("models"),
            ort_dylib_path: None,
            python_env: PathBuf::from(".venv"),
            intra_threads: 1,
            workers: 1,
            max_batch_rows: 1024,
            queue_capacity: 4096,
            serve: Vec::new(),
            drift_window_rows: 1000,
            drift_min_rows: 200,
            drift_check_ms: 5000,
            explain_top: 3,
        }
    }
}

/// What a token may do. Every role may read; `admin` may do everything.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// Read predictions, trends, models; score.
    Viewer,
    /// Viewer, plus acknowledge alerts and record inspections.
    Operator,
    /// Viewer, plus upload, activate and roll back models.
    DataScientist,
    /// Everything.
    Admin,
    /// A data logger: may push inverter readings (`POST /v1/ingest/{pipeline}`) and read, nothing else.
    Ingest,
}

impl Role {
    /// The role's name as written in config.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Operator => "operator",
            Role::DataScientist => "data-scientist",
            Role::Admin => "admin",
            Role::Ingest => "ingest",
        }
    }
}

impl std::str::FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "viewer" => Ok(Role::Viewer),
            "operator" => Ok(Role::Operator),
            "data-scientist" => Ok(Role::DataScientist),
            "admin" => Ok(Role::Admin),
            "ingest" => Ok(Role::Ingest),
            other => Err(format!("unknown role {other:?}; one of viewer, operator, data-scientist, admin, ingest")),
        }
    }
}

/// One API token, stored only as the SHA-256 of the token text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenEntry {
    /// Who or what holds it (shown in logs instead of the token).
    pub name: String,
    /// What it may do.
    pub role: Role,
    /// Lower-case hex SHA-256 of the token.
    pub sha256: String,
}

/// API tokens.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthSettings {
    /// Tokens given in configuration, in addition to those in `tokens_file`.
    pub tokens: Vec<TokenEntry>,
    /// File of tokens that `prognos token create` and the first run write. Default `<data_dir>/tokens.toml`.
    pub tokens_file: Option<PathBuf>,
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// Logging.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogSettings {
    /// A tracing filter such as `info` or `prognos_server=debug,info`; `RUST_LOG` overrides it.
    /// Default `info,ort=warn` (ONNX Runtime's own info lines are many).
    pub filter: String,
    /// `text` or `json`. Default `text`.
    pub format: LogFormat,
}

impl Default for LogSettings {
    fn default() -> Self {
        Self { filter: "info,ort=warn".into(), format: LogFormat::Text }
    }
}

impl Settings {
    /// Defaults, then the file (`path`, which must exist, or `prognos.toml` if present), then `PROGNOS__*`.
    pub fn load(path: Option<&Path>) -> Result<Self, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(Settings::default()));
        match path {
            Some(p) if !p.is_file() => return Err(ConfigError::MissingFile(p.to_path_buf())),
            Some(p) => figment = figment.merge(Toml::file_exact(p)),
            None if Path::new(DEFAULT_CONFIG_FILE).is_file() => {
                figment = figment.merge(Toml::file_exact(DEFAULT_CONFIG_FILE))
            }
            None => {}
        }
        figment = figment.merge(Env::prefixed("PROGNOS__").split("__"));
        figment.extract().map_err(|e| ConfigError::Invalid(e.to_string()))
    }

    /// The store URL actually used.
    pub fn store_url(&self) -> String {
        self.store.url.clone().unwrap_or_else(|| format!("sqlite://{}", self.data_dir.join("prognos.db").display()))
    }

    /// The token file actually used.
    pub fn tokens_file(&self) -> PathBuf {
        self.auth.tokens_file.clone().unwrap_or_else(|| self.data_dir.join("tokens.toml"))
    }
}

#[cfg(test)]
#[allow(clippy::result_large_err)] // figment::Jail's closure signature
mod tests {
    use super::*;

    #[test]
    fn layers_file_then_environment_over_defaults() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("custom.toml", "[server]\nport = 9001\nhost = \"0.0.0.0\"\n[models]\nworkers = 2\n")?;
            jail.set_env("PROGNOS__SERVER__PORT", "9002");
            jail.set_env("PROGNOS__MODELS__ORT_DYLIB_PATH", "/opt/ort.so");
            let s = Settings::load(Some(Path::new("custom.toml"))).unwrap();
            assert_eq!(s.server.port, 9002, "environment wins over the file");
            assert_eq!(s.server.host, "0.0.0.0", "the file wins over defaults");
            assert_eq!(s.models.workers, 2);
            assert_eq!(s.models.ort_dylib_path.as_deref(), Some(Path::new("/opt/ort.so")));
            assert_eq!(s.models.intra_threads, 1, "defaults fill the rest");
            Ok(())
        });
    }

    #[test]
    fn reads_prognos_toml_when_present_and_refuses_unknown_keys() {
        figment::Jail::expect_with(|jail| {
            assert_eq!(Settings::load(None).unwrap(), Settings::default());
            jail.create_file(DEFAULT_CONFIG_FILE, "[server]\nprot = 1\n")?;
            let err = Settings::load(None).unwrap_err().to_string();
            assert!(err.contains("prot"), "{err}");
            assert!(matches!(Settings::load(Some(Path::new("nope.toml"))), Err(ConfigError::MissingFile(_))));
            Ok(())
        });
    }

    #[test]
    fn token_roles_parse_from_kebab_case() {
        let t: TokenEntry =
            figment::Figment::from(Toml::string("name = \"ds\"\nrole = \"data-scientist\"\nsha256 = \"ab\""))
                .extract()
                .unwrap();
        assert_eq!(t.role, Role::DataScientist);
        assert_eq!("operator".parse::<Role>().unwrap(), Role::Operator);
        assert!("root".parse::<Role>().is_err());
    }
}
