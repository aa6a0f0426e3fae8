//! Command-line interface (clap).

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// Prognos: predictive-maintenance inference.
#[derive(Debug, Parser)]
#[command(name = "prognos", version, about)]
pub struct Cli {
    /// Configuration file (default: ./prognos.toml when it exists). `PROGNOS__SECTION__KEY` overrides it.
    #[arg(long, global = true)]
    pub config: Option<PathBuf>,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the service: HTTP API and model workers.
    Serve,
    /// Score a feature CSV: the same rows come out with health score and class probability columns.
    Score {
        /// `NAME` (highest version) or `NAME@VERSION`.
        #[arg(long)]
        model: String,
        /// Feature CSV with a header naming the model's features (other columns pass through).
        file: PathBuf,
        /// Where to write the scored CSV (default: standard output).
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
    /// Inspect the model registry.
    Models {
        /// What to do with models.
        #[command(subcommand)]
        command: ModelsCommand,
    },
    /// Simulators for training data, tests and demos.
    Simulate {
        /// What to simulate.
        #[command(subcommand)]
        command: SimulateCommand,
    },
    /// Inspection outcomes: the labels for retraining.
    Inspections {
        /// What to do with inspections.
        #[command(subcommand)]
        command: InspectionsCommand,
    },
    /// Export data from the store.
    Export {
        /// What to export.
        #[command(subcommand)]
        command: ExportCommand,
    },
    /// Ingest inverter CSV files through a pipeline (the same path as the drop folder, HTTP and MQTT).
    Ingest {
        /// The pipeline: its name in the pipelines folder, or a path to its TOML file.
        #[arg(long)]
        pipeline: String,
        /// CSV files in the site's format.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Print each file's report as one JSON line instead of a summary.
        #[arg(long)]
        json: bool,
    },
    /// Manage API tokens.
    Token {
        /// What to do with tokens.
        #[command(subcommand)]
        command: TokenCommand,
    },
}

/// `prognos models ...`
#[derive(Debug, Subcommand)]
pub enum ModelsCommand {
    /// List every model version in the registry and whether it validates.
    List,
    /// Validate one model version folder (card + graph + warm-up), as the service would before serving it.
    Validate {
        /// A `models/<name>/<version>/` folder.
        path: PathBuf,
    },
    /// The versions of a model in the running service: loaded, active, previous, shadow.
    Versions {
        /// The model name.
        name: String,
        #[command(flatten)]
        api: crate::commands::models::ApiArgs,
    },
    /// Make a version active in the running service (hot swap; kept across restarts).
    Activate {
        /// The model name.
        name: String,
        /// The version to serve.
        version: String,
        #[command(flatten)]
        api: crate::commands::models::ApiArgs,
    },
    /// Return to the version that was active before the last activation.
    Rollback {
        /// The model name.
        name: String,
        #[command(flatten)]
        api: crate::commands::models::ApiArgs,
    },
    /// Score a candidate version in the shadow of the active one (or stop with --stop); shows the comparison.
    Shadow {
        /// The model name.
        name: String,
        /// The candidate version (omit it to show the comparison so far).
        version: Option<String>,
        /// Stop shadow scoring.
        #[arg(long, conflicts_with = "version")]
        stop: bool,
        #[command(flatten)]
        api: crate::commands::models::ApiArgs,
    },
    /// Make the shadow candidate the active version.
    Promote {
        /// The model name.
        name: String,
        #[command(flatten)]
        api: crate::commands::models::ApiArgs,
    },
    /// Pick up version folders that appeared in the registry.
    Reload {
        /// Only this model.
        name: Option<String>,
        #[command(flatten)]
        api: crate::commands::models::ApiArgs,
    },
}

/// `prognos inspections ...`
#[derive(Debug, Subcommand)]
pub enum InspectionsCommand {
    /// Record what an inspection found (written to the store).
    Record {
        /// Wheel or inverter id.
        #[arg(long)]
        asset: String,
        /// `healthy`, or the failure found (`flat_spot`, `cracks`, ...).
        #[arg(long)]
        outcome: String,
        /// When it was inspected (RFC 3339; default now).
        #[arg(long)]
        at: Option<chrono::DateTime<chrono::Utc>>,
        /// How bad, 0..1.
        #[arg(long)]
        severity: Option<f64>,
        /// Free text.
        #[arg(long, default_value = "")]
        notes: String,
        /// wheel or inverter.
        #[arg(long, default_value = "wheel")]
        kind: String,
        /// Who records it.
        #[arg(long, env = "USER", default_value = "cli")]
        by: String,
    },
    /// List inspections, newest first.
    List {
        /// Only this asset.
        #[arg(long)]
        asset: Option<String>,
        /// At most this many.
        #[arg(long, default_value_t = 100)]
        limit: i64,
    },
}

/// `prognos export ...`
#[derive(Debug, Subcommand)]
pub enum ExportCommand {
    /// Inspection labels joined to stored feature rows, as a training-data CSV.
    TrainingData {
        /// Folder to write into.
        #[arg(long)]
        out: PathBuf,
        /// File name in it.
        #[arg(long, default_value = "inspections.csv")]
        file_name: String,
        /// The feature set to label.
        #[arg(long, default_value = "wheel-v1")]
        feature_set: String,
        /// The oldest feature row an inspection may label, in hours before it.
        #[arg(long, default_value_t = 168)]
        max_age_hours: i64,
        /// The severity of a failure recorded without one.
        #[arg(long, default_value_t = 1.0)]
        failure_severity: f64,
    },
}

/// `prognos token ...`
#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create a token, print it once, and store only its hash in the token file.
    Create {
        /// A name for the holder (unique).
        #[arg(long)]
        name: String,
        /// viewer, operator, data-scientist or admin.
        #[arg(long)]
        role: prognos_core::Role,
    },
}

/// `prognos simulate ...`
#[derive(Debug, Subcommand)]
pub enum SimulateCommand {
    /// Seeded SICK iCon captures of polyurethane ride wheels, healthy and with every failure mode.
    Wheels {
        /// Write `DIR/Cam_01/`, `DIR/Cam_02/` capture pairs and `DIR/labels.csv`.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Write labelled `wheel-v1` feature rows of the same captures (training-data format).
        #[arg(long)]
        training_csv: Option<PathBuf>,
        /// Number of captures.
        #[arg(long, default_value_t = 100)]
        count: usize,
        /// Seed of the whole plan: the same seed gives the same bytes.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Threads for featurizing training rows (the output does not depend on it).
        #[arg(long, default_value_t = 2)]
        threads: usize,
        /// Keep writing: a coaster run every --run-interval-ms into --out's camera folders, with an RFID log,
        /// one wheel degrading run by run (the demo feed of the main job).
        #[arg(long, requires = "out")]
        live: bool,
        /// With --live: milliseconds between runs.
        #[arg(long, default_value_t = 5000)]
        run_interval_ms: u64,
        /// With --live: wheels each camera sees per run.
        #[arg(long, default_value_t = 4)]
        wheels_per_camera: usize,
        /// With --live: stop after this many runs (0 = until interrupted).
        #[arg(long, default_value_t = 0)]
        runs: usize,
    },
    /// Labelled inverter-v1 training windows: a site's real readings with seeded faults injected.
    Inverters {
        /// The site's inverter-metrics pipeline (column mapping, weather join, time zone).
        #[arg(long)]
        pipeline: PathBuf,
        /// The site's generation CSV file(s), read through the pipeline.
        #[arg(required = true)]
        inputs: Vec<PathBuf>,
        /// Seed of the fault plan: the same seed and inputs give the same bytes.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Write the labelled windows (training-data format).
        #[arg(long)]
        training_csv: Option<PathBuf>,
        /// Write the un-injected whole-day windows without labels (evaluation on real data).
        #[arg(long)]
        real_csv: Option<PathBuf>,
    },
}
