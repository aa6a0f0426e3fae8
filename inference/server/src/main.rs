//! The `prognos` binary.

use std::process::ExitCode;

use clap::Parser;
use prognos_core::Settings;
use prognos_server::cli::{Cli, Command, SimulateCommand, TokenCommand};
use prognos_server::{commands, shutdown, telemetry, Application};
use tokio_util::sync::CancellationToken;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let settings = match Settings::load(cli.config.as_deref()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("prognos: {e}");
            return ExitCode::from(2);
        }
    };
    telemetry::init_logging(&settings.log);
    let result = match cli.command {
        Command::Serve => serve(settings),
        Command::Score { model, file, output } => commands::score_csv::run(&settings, &model, &file, output.as_deref()),
        Command::Models { command } => commands::models::run(&settings, command),
        Command::Inspections { command } => commands::models::inspections(&settings, command),
        Command::Export { command } => commands::models::export(&settings, command),
        Command::Simulate {
            command:
                SimulateCommand::Wheels {
                    out,
                    training_csv,
                    count,
                    seed,
                    threads,
                    live,
                    run_interval_ms,
                    wheels_per_camera,
                    runs,
                },
        } => match (live, out) {
            (true, Some(out)) => commands::simulate::live(&out, seed, run_interval_ms, wheels_per_camera, runs),
            (_, out) => commands::simulate::wheels(out, training_csv, count, seed, threads),
        },
        Command::Simulate {
            command: SimulateCommand::Inverters { pipeline, inputs, seed, training_csv, real_csv },
        } => commands::simulate::inverters(&pipeline, &inputs, seed, training_csv, real_csv),
        Command::Ingest { pipeline, files, json } => commands::ingest::run(&settings, &pipeline, &files, json),
        Command::Token { command: TokenCommand::Create { name, role } } => {
            commands::token::create(&settings, &name, role)
        }
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("prognos: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn serve(settings: Settings) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async {
        let token = CancellationToken::new();
        shutdown::cancel_on_signal(token.clone());
        let app = Application::build(settings, token).await?;
        let host = app.state().settings.server.host.clone();
        tracing::info!(address = %format!("http://{host}:{}", app.port()), "listening");
        app.run_until_stopped().await?;
        tracing::info!("stopped");
        Ok(ExitCode::SUCCESS)
    })
}
