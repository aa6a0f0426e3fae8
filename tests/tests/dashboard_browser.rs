//! The dashboard in a real browser: Debian's headless chromium, driven by `tests/browser/dashboard.mjs`
//! (playwright-core), logs in through the form, finds the worn wheel ranked first on the fleet page with its open
//! alert, clicks through to its page, checks that the health chart drops below the threshold line and marks the
//! alert, opens a capture and logs out. The screenshots stay in `target/browser-artifacts/`.
//!
//! `scripts/setup-browser.sh` (which `scripts/test.sh` runs) installs chromium and the npm package. Without them
//! the test fails under `CI=true` and is skipped with a note elsewhere.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Instant;

use prognos_tests::dashboard::{app as dashboard_app, feed, HEALTHY, WORN};
use prognos_tests::{repo_root, VIEWER_TOKEN};

/// Where the screenshots go: `$PROGNOS_BROWSER_ARTIFACTS`, else `<repo>/target/browser-artifacts`.
fn artifacts_dir() -> PathBuf {
    std::env::var_os("PROGNOS_BROWSER_ARTIFACTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("target/browser-artifacts"))
}

/// The chromium binary: `$PROGNOS_CHROMIUM`, else Debian's.
fn chromium() -> PathBuf {
    std::env::var_os("PROGNOS_CHROMIUM").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"))
}

/// What is missing to run the browser, if anything.
fn missing() -> Option<String> {
    let chromium = chromium();
    if !chromium.is_file() {
        return Some(format!("{} is missing", chromium.display()));
    }
    match std::process::Command::new("node").arg("--version").output() {
        Ok(out) if out.status.success() => {}
        _ => return Some("node is missing".into()),
    }
    let package = repo_root().join("tests/browser/node_modules/playwright-core/package.json");
    if !package.is_file() {
        return Some(format!("{} is missing", package.display()));
    }
    None
}

/// Runs the browser script against `url` for `asset`, saving its screenshots in `out`.
async fn drive(url: &str, asset: &str, out: &Path) -> Output {
    tokio::process::Command::new("node")
        .arg(repo_root().join("tests/browser/dashboard.mjs"))
        .args(["--url", url, "--asset", asset, "--threshold", "70"])
        .arg("--out")
        .arg(out)
        .arg("--chromium")
        .arg(chromium())
        .env("PROGNOS_TOKEN", VIEWER_TOKEN)
        .kill_on_drop(true)
        .output()
        .await
        .expect("run node")
}

/// A line on the real standard error, which the test harness does not capture: the note shows in every run.
fn say(line: &str) {
    let _ = writeln!(std::io::stderr(), "{line}");
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[tokio::test]
async fn chromium_logs_in_and_sees_the_worn_wheel_drop_below_the_threshold() {
    if let Some(what) = missing() {
        let note = format!("dashboard browser test: {what}; run scripts/setup-browser.sh (scripts/test.sh does)");
        assert!(std::env::var("CI").as_deref() != Ok("true"), "{note}");
        say(&format!("{note}. Skipped."));
        return;
    }
    let started = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let app = dashboard_app(dir.path()).await;
    feed(&app, dir.path()).await;
    let fed = started.elapsed();

    let out = artifacts_dir();
    std::fs::create_dir_all(&out).unwrap();
    // Only this run's screenshots: an old FAILED-*.png next to them would mislead.
    for entry in std::fs::read_dir(&out).unwrap().flatten() {
        if entry.path().extension().is_some_and(|e| e == "png") {
            std::fs::remove_file(entry.path()).unwrap();
        }
    }
    let run = drive(&app.address, WORN, &out).await;
    let (stdout, stderr) = (text(&run.stdout), text(&run.stderr));
    print!("{stdout}");
    eprint!("{stderr}");
    assert!(run.status.success(), "the browser test failed ({}): {stderr}", run.status);
    for name in ["01-login", "02-login-refused", "03-fleet", &format!("04-asset-{WORN}")] {
        let png = std::fs::read(out.join(format!("{name}.png"))).unwrap_or_else(|e| panic!("{name}.png: {e}"));
        assert!(png.starts_with(b"\x89PNG") && png.len() > 5_000, "{name}.png is not a screenshot");
    }
    let capture_shots = std::fs::read_dir(&out)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("05-capture-"))
        .count();
    assert_eq!(capture_shots, 1, "the capture page was opened and captured");

    // The checks can fail: the healthy wheel is not ranked first, and the script says so.
    let scratch = tempfile::tempdir().unwrap();
    let wrong = drive(&app.address, HEALTHY, scratch.path()).await;
    let stderr = text(&wrong.stderr);
    assert_eq!(wrong.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains(&format!("{HEALTHY} should be ranked first")), "{stderr}");
    assert!(scratch.path().join("FAILED-fleet.png").is_file(), "a failed check keeps a screenshot of the page");

    say(&format!(
        "dashboard browser test: screenshots in {} (scenario fed in {:.1} s, {:.1} s in all)",
        out.display(),
        fed.as_secs_f64(),
        started.elapsed().as_secs_f64()
    ));
    app.stop().await;
}
