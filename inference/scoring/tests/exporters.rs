//! Every exporter format a data scientist may hand us: trained and exported by the project's Python
//! environment (`tests/fixtures/make_exporter_models.py`), loaded here through ONNX Runtime, and compared with
//! what onnxruntime in Python returned for the same rows. Also every way a model can be refused.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use prognos_scoring::{FeatureBatch, Model, ModelHandle, RuntimeLocator, ScoringError, SessionOptions, WorkerOptions};

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).ancestors().nth(2).unwrap().to_path_buf()
}

/// Generates the fixture models once per test binary.
fn fixtures() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let root = repo_root();
        let python = root.join(".venv/bin/python");
        assert!(
            python.is_file(),
            "the project's Python environment is missing: run scripts/setup-python.sh (the test command does)"
        );
        let dir = std::env::temp_dir().join(format!("prognos-exporters-{}", std::process::id()));
        let status = std::process::Command::new(&python)
            .arg(root.join("tests/fixtures/make_exporter_models.py"))
            .arg(&dir)
            .stdout(std::process::Stdio::null())
            .status()
            .expect("run the fixture generator");
        assert!(status.success(), "make_exporter_models.py failed");
        dir
    })
}

fn opts() -> SessionOptions {
    SessionOptions { intra_threads: 1, locator: RuntimeLocator { configured: None, python_env: ".venv".into() } }
}

#[derive(serde::Deserialize)]
struct Expected {
    inputs: Vec<Vec<f64>>,
    probabilities: Vec<Vec<f64>>,
    health: Vec<f64>,
}

const VARIANTS: &[&str] = &[
    "skl-rf-zipmap",
    "skl-gb-nozipmap",
    "skl-multiclass-strings",
    "skl-multiclass-zipmap-strings",
    "lgbm-binary",
    "lgbm-binary-zipmap",
    "mlp-skl",
    "nn-sigmoid",
    "nn-softmax",
    "float64-input",
];

fn check_variant(name: &str) {
    let dir = fixtures().join(name);
    let expected: Expected =
        serde_json::from_str(&std::fs::read_to_string(dir.join("expected.json")).unwrap()).unwrap();
    let model = Model::load(&dir.join("1.0.0"), &opts()).unwrap_or_else(|e| panic!("{name}: {e}"));
    let classes = model.card().output.classes.len();
    let handle = ModelHandle::spawn(vec![model], WorkerOptions::default()).unwrap();
    let rows = expected.inputs.len();
    let values: Vec<f32> = expected.inputs.iter().flatten().map(|&v| v as f32).collect();
    let scores = handle.score_blocking(FeatureBatch { values, rows }).unwrap();
    assert_eq!(scores.rows(), rows);
    for i in 0..rows {
        for c in 0..classes {
            let (got, want) = (f64::from(scores.row(i)[c]), expected.probabilities[i][c]);
            assert!((got - want).abs() <= 1e-5, "{name} row {i} class {c}: rust {got} vs onnxruntime {want}");
        }
        let (got, want) = (f64::from(scores.health(i)), expected.health[i]);
        assert!((got - want).abs() <= 1e-3, "{name} row {i} health: {got} vs {want}");
    }
    // The scores must not all be the same, or the comparison above proves little.
    let spread = (0..rows).map(|i| scores.health(i)).fold((f32::MAX, f32::MIN), |(lo, hi), h| (lo.min(h), hi.max(h)));
    assert!(spread.1 - spread.0 > 1.0, "{name}: health scores barely vary: {spread:?}");
}

#[test]
fn every_exporter_format_matches_onnxruntime_in_python() {
    for name in VARIANTS {
        check_variant(name);
    }
}

#[test]
fn single_rows_and_batches_give_the_same_scores() {
    let dir = fixtures().join("lgbm-binary/1.0.0");
    let handle = ModelHandle::spawn(vec![Model::load(&dir, &opts()).unwrap()], WorkerOptions::default()).unwrap();
    let values: Vec<f32> = (0..6 * 32).map(|i| ((i * 37) % 19) as f32 / 4.0 - 2.0).collect();
    let batch = handle.score_blocking(FeatureBatch { values: values.clone(), rows: 32 }).unwrap();
    for i in 0..32 {
        let one = handle.score_blocking(FeatureBatch { values: values[i * 6..(i + 1) * 6].to_vec(), rows: 1 }).unwrap();
        assert!((one.health(0) - batch.health(i)).abs() < 1e-4);
    }
    let wrong = handle.score_blocking(FeatureBatch { values: vec![0.0; 5], rows: 1 });
    assert!(matches!(wrong, Err(ScoringError::Input(m)) if m.contains("6 features")));
}

fn refusal(name: &str) -> String {
    let dir = fixtures().join("bad").join(name).join("1.0.0");
    match Model::load(&dir, &opts()) {
        Ok(_) => panic!("{name} was accepted"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn mismatched_models_are_refused_with_the_exact_reason() {
    let cases = [
        ("wrong-input-name", "is not an input of the graph"),
        ("wrong-feature-count", "card lists 5 features but graph input \"input\" takes 6"),
        ("wrong-dtype", "dtype mismatch: card input.dtype is Float64"),
        ("missing-output", "is not an output of the graph"),
        ("bad-healthy-class", "is not one of output.classes"),
        ("not-onnx", "ONNX Runtime could not load"),
        ("no-card", "cannot read"),
    ];
    for (name, needle) in cases {
        let message = refusal(name);
        assert!(message.contains(needle), "{name}: {message}");
    }
}

#[test]
fn a_card_in_the_wrong_folder_or_with_the_wrong_class_count_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let src = fixtures().join("skl-gb-nozipmap/1.0.0");
    let copy = |to: &Path, edit: &dyn Fn(String) -> String| {
        std::fs::create_dir_all(to).unwrap();
        std::fs::copy(src.join("model.onnx"), to.join("model.onnx")).unwrap();
        let card = std::fs::read_to_string(src.join("card.toml")).unwrap();
        std::fs::write(to.join("card.toml"), edit(card)).unwrap();
    };
    let moved = tmp.path().join("other-name/1.0.0");
    copy(&moved, &|c| c);
    let err = Model::load(&moved, &opts()).unwrap_err().to_string();
    assert!(err.contains("but the folder is other-name/1.0.0"), "{err}");

    let three = tmp.path().join("skl-gb-nozipmap/1.0.0");
    copy(&three, &|c| c.replace("classes = [\"0\", \"1\"]", "classes = [\"0\", \"1\", \"2\"]"));
    let err = Model::load(&three, &opts()).unwrap_err().to_string();
    assert!(err.contains("class count mismatch: card lists 3 classes"), "{err}");

    let swapped = tmp.path().join("skl-gb-nozipmap/2.0.0");
    copy(&swapped, &|c| {
        c.replace("version = \"1.0.0\"", "version = \"2.0.0\"")
            .replace("classes = [\"0\", \"1\"]", "classes = [\"1\", \"0\"]")
    });
    let err = Model::load(&swapped, &opts()).unwrap_err().to_string();
    assert!(err.contains("class order") || err.contains("disagrees with the graph"), "{err}");
}

#[test]
fn a_missing_runtime_names_what_is_missing_and_how_to_install_it() {
    // Only meaningful before any library is loaded in this process; the locator itself is what we check.
    let locator = RuntimeLocator {
        configured: Some("/nonexistent/libonnxruntime.so".into()),
        python_env: "/nonexistent-env".into(),
    };
    let candidates = locator.candidates();
    assert_eq!(candidates[0], PathBuf::from("/nonexistent/libonnxruntime.so"));
    let found = RuntimeLocator { configured: None, python_env: ".venv".into() }.candidates();
    assert!(found.iter().any(|p| p.ends_with("onnxruntime/capi/libonnxruntime.so.1.31.1")), "{found:?}");
}
