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
