//! What the process-level tests share: `prognos serve` as a child process, ready before the test goes on.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use prognos_tests::repo_root;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Starts `prognos serve` in `dir` (which may hold a `prognos.toml`) serving the wheel model on a free port, and
/// waits for /readyz, so a test never races the service's first migration. Its stderr goes to
/// `dir/stderr.log`, shown if it exits before it is ready. Returns the process and its port.
pub async fn serve(dir: &Path) -> (Child, u16) {
    let port = free_port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_prognos"))
        .arg("serve")
        .current_dir(dir)
        .env("PROGNOS__MODELS__PYTHON_ENV", repo_root().join(".venv"))
        .env("PROGNOS__MODELS__DIR", repo_root().join("models"))
        .env("PROGNOS__MODELS__SERVE", "[\"wheel-health\"]")
        .env("PROGNOS__SERVER__PORT", port.to_string())
        .env("PROGNOS__LOG__FILTER", "warn")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join("stderr.log")).unwrap())
        .spawn()
        .unwrap();
    let started = Instant::now();
    let client = reqwest::Client::new();
    loop {
        if let Ok(r) = client.get(format!("http://127.0.0.1:{port}/readyz")).send().await {
            if r.status() == 200 {
                return (child, port);
            }
        }
        if let Some(status) = child.try_wait().unwrap() {
            let log = std::fs::read_to_string(dir.join("stderr.log")).unwrap_or_default();
            panic!("prognos serve exited: {status}\n{log}");
        }
        assert!(started.elapsed() < Duration::from_secs(60), "prognos serve not ready");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
