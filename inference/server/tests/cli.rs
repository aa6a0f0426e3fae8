//! The `prognos` binary end to end: `score` on a feature CSV, `models list|validate`, `token create`, the
//! first-run admin token, and the error when ONNX Runtime is missing.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use prognos_tests::{fixtures, registry_with, repo_root};

fn prognos(dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_prognos"));
    cmd.current_dir(dir)
        .env("PROGNOS__MODELS__PYTHON_ENV", repo_root().join(".venv"))
        .env_remove("ORT_DYLIB_PATH")
        .env_remove("RUST_LOG");
    cmd
}

fn run(cmd: &mut Command) -> Output {
    cmd.output().expect("run prognos")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn score_appends_health_columns_and_rejects_bad_rows_with_reasons() {
    let dir = tempfile::tempdir().unwrap();
    registry_with(&dir.path().join("models"), &["lgbm-binary"]);
    let exp: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fixtures().join("lgbm-binary/expected.json")).unwrap()).unwrap();
    let mut csv = String::from("asset,f5,f4,f3,f2,f1,f0\n");
    let inputs = exp["inputs"].as_array().unwrap();
    for (i, row) in inputs.iter().enumerate() {
        let r: Vec<String> = row.as_array().unwrap().iter().rev().map(|v| v.to_string()).collect();
        csv.push_str(&format!("wheel-{i},{}\n", r.join(",")));
        if i == 3 {
            csv.push_str("broken-a,1,2,3,,5,6\n");
            csv.push_str("broken-b,1,2,NaN,4,5,6\n");
        }
    }
    std::fs::write(dir.path().join("features.csv"), csv).unwrap();
    let out = run(prognos(dir.path()).args(["score", "--model", "lgbm-binary", "features.csv", "-o", "scored.csv"]));
    assert_eq!(out.status.code(), Some(3), "some rows were rejected: {}", text(&out.stderr));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("line 6: rejected: feature \"f2\" is \"\", not a number"), "{stderr}");
    assert!(stderr.contains("line 7: rejected: feature \"f3\" is NaN, not a finite number"), "{stderr}");
    assert!(stderr.contains(&format!("scored {} rows with lgbm-binary@1.0.0; rejected 2", inputs.len())), "{stderr}");

    let mut reader = csv::Reader::from_path(dir.path().join("scored.csv")).unwrap();
    let header: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
    assert_eq!(&header[7..], ["health_score", "p_0", "p_1", "model_version"]);
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), inputs.len());
    for (i, row) in rows.iter().enumerate() {
        assert_eq!(&row[0], format!("wheel-{i}"), "rows keep their order and pass-through columns");
        let health: f64 = row[7].parse().unwrap();
        let want = exp["health"][i].as_f64().unwrap();
        assert!((health - want).abs() < 1e-3, "row {i}: {health} vs {want}");
        assert_eq!(&row[10], "lgbm-binary@1.0.0");
    }
}

#[test]
fn models_validate_and_list_say_what_is_wrong() {
    let dir = tempfile::tempdir().unwrap();
    let models = dir.path().join("models");
    registry_with(&models, &["nn-sigmoid", "bad/wrong-feature-count"]);
    let ok = run(prognos(dir.path()).args(["models", "validate", "models/nn-sigmoid/1.0.0"]));
    assert!(ok.status.success(), "{}", text(&ok.stderr));
    assert!(text(&ok.stdout).contains("ok: nn-sigmoid@1.0.0 takes 6 features"));
    let bad = run(prognos(dir.path()).args(["models", "validate", "models/wrong-feature-count/1.0.0"]));
    assert_eq!(bad.status.code(), Some(3));
    assert!(text(&bad.stderr).contains("card lists 5 features but graph input"), "{}", text(&bad.stderr));
    let list = run(prognos(dir.path()).args(["models", "list"]));
    assert_eq!(list.status.code(), Some(3));
    let stdout = text(&list.stdout);
    assert!(stdout.contains("nn-sigmoid@1.0.0  ok"), "{stdout}");
    assert!(stdout.contains("wrong-feature-count@1.0.0  REFUSED"), "{stdout}");
}

#[test]
fn a_missing_onnx_runtime_is_named_with_the_command_that_installs_it() {
    let dir = tempfile::tempdir().unwrap();
    registry_with(&dir.path().join("models"), &["nn-softmax"]);
    let out = run(prognos(dir.path()).env("PROGNOS__MODELS__PYTHON_ENV", "/nonexistent-python-env").args([
        "models",
        "validate",
        "models/nn-softmax/1.0.0",
    ]));
    assert_eq!(out.status.code(), Some(3));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("ONNX Runtime could not be loaded"), "{stderr}");
    assert!(stderr.contains("scripts/setup-python.sh"), "{stderr}");
    assert!(stderr.contains("ORT_DYLIB_PATH"), "{stderr}");
}

#[test]
fn first_run_creates_one_admin_token_prints_it_once_and_stores_only_its_hash() {
    let dir = tempfile::tempdir().unwrap();
    registry_with(&dir.path().join("models"), &["nn-softmax"]);
    let spawn = || {
        prognos(dir.path())
            .env("PROGNOS__SERVER__PORT", "0")
            .arg("serve")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let mut child = spawn();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut token = String::new();
    let started = Instant::now();
    let mut line = String::new();
    while started.elapsed() < Duration::from_secs(30) {
        line.clear();
        if stdout.read_line(&mut line).unwrap() == 0 {
            break;
        }
        if let Some(t) = line.trim().strip_prefix("prg_") {
            token = format!("prg_{t}");
            break;
        }
    }
    assert!(token.len() > 40, "no token printed");
    // Find the port in the log, then use the token.
    let stderr = BufReader::new(child.stderr.take().unwrap());
    let port = stderr
        .lines()
        .map_while(Result::ok)
        .find_map(|l| {
            l.split("http://127.0.0.1:").nth(1).map(|p| p.trim_matches(|c: char| !c.is_ascii_digit()).to_string())
        })
        .expect("the listening address is logged");
    let url = format!("http://127.0.0.1:{port}/v1/models");
    let rt = tokio::runtime::Runtime::new().unwrap();
    let status = rt.block_on(async {
        let c = reqwest::Client::new();
        let ok = c.get(&url).bearer_auth(&token).send().await.unwrap().status();
        let bad = c.get(&url).bearer_auth("prg_nope").send().await.unwrap().status();
        (ok, bad)
    });
    assert_eq!((status.0.as_u16(), status.1.as_u16()), (200, 401));
    child.kill().unwrap();
    child.wait().unwrap();
    let stored = std::fs::read_to_string(dir.path().join("data/tokens.toml")).unwrap();
    assert!(!stored.contains(&token));
    assert!(stored.contains(&prognos_server::auth::hash_token(&token)));
    assert!(stored.contains("role = \"admin\""));

    // A second run finds the stored hash and prints no new token.
    let mut child = spawn();
    std::thread::sleep(Duration::from_millis(1500));
    child.kill().unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(!text(&out.stdout).contains("prg_"), "a token was printed again");
}

#[test]
fn token_create_prints_the_token_once_and_refuses_duplicate_names() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(prognos(dir.path()).args(["token", "create", "--name", "ops", "--role", "operator"]));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let token = text(&out.stdout).trim().to_string();
    assert!(token.starts_with("prg_"));
    let stored = std::fs::read_to_string(dir.path().join("data/tokens.toml")).unwrap();
    assert!(!stored.contains(&token) && stored.contains("role = \"operator\""));
    let again = run(prognos(dir.path()).args(["token", "create", "--name", "ops", "--role", "viewer"]));
    assert!(!again.status.success());
    let bad_role = run(prognos(dir.path()).args(["token", "create", "--name", "x", "--role", "root"]));
    assert!(!bad_role.status.success());
    assert!(text(&bad_role.stderr).contains("unknown role"));
}
