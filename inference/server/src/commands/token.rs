//! `prognos token create`.

use std::process::ExitCode;

use prognos_core::{Role, Settings};

/// Creates a token, prints it once on standard output.
pub fn create(settings: &Settings, name: &str, role: Role) -> anyhow::Result<ExitCode> {
    let file = settings.tokens_file();
    let token = crate::auth::create_token(&file, name, role)?;
    eprintln!(
        "prognos: token {name:?} ({}) stored as a hash in {}; it is shown only now:",
        role.as_str(),
        file.display()
    );
    println!("{token}");
    Ok(ExitCode::SUCCESS)
}
