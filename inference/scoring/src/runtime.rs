//! Finding and loading the ONNX Runtime shared library (ort `load-dynamic`), once per process.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use ort::environment::Environment;

use crate::error::{Result, ScoringError};

/// The file name the official `onnxruntime==1.31.1` wheel ships in `onnxruntime/capi/`.
pub const DYLIB_NAME: &str = "libonnxruntime.so.1.31.1";

/// Where to look for ONNX Runtime, in order: an explicit path, `ORT_DYLIB_PATH`, then a Python environment.
#[derive(Debug, Clone, Default)]
pub struct RuntimeLocator {
    /// `models.ort_dylib_path` from the configuration.
    pub configured: Option<PathBuf>,
    /// The project's Python environment folder (`.venv` by default). A relative path is looked up in the
    /// current directory, its ancestors, and the ancestors of the running executable.
    pub python_env: PathBuf,
}

impl RuntimeLocator {
    /// The candidate library paths, most specific first.
    pub fn candidates(&self) -> Vec<PathBuf> {
        let mut out = Vec::new();
        if let Some(p) = &self.configured {
            out.push(p.clone());
        }
        if let Some(p) = std::env::var_os("ORT_DYLIB_PATH").filter(|p| !p.is_empty()) {
            out.push(PathBuf::from(p));
        }
        for env_dir in self.python_env_dirs() {
            out.extend(wheel_libraries(&env_dir));
        }
        out.dedup();
        out
    }

    fn python_env_dirs(&self) -> Vec<PathBuf> {
        if self.python_env.is_absolute() {
            return vec![self.python_env.clone()];
        }
        let mut roots: Vec<PathBuf> = Vec::new();
        if let Ok(cwd) = std::env::current_dir() {
            roots.extend(cwd.ancestors().map(Path::to_path_buf));
        }
        if let Ok(exe) = std::env::current_exe() {
            roots.extend(exe.ancestors().skip(1).map(Path::to_path_buf));
        }
        let mut dirs: Vec<PathBuf> = Vec::new();
        for root in roots {
            let dir = root.join(&self.python_env);
            if dir.is_dir() && !dirs.contains(&dir) {
                dirs.push(dir);
            }
        }
        dirs
    }
}

/// `<env>/lib/python3.*/site-packages/onnxruntime/capi/libonnxruntime.so.*`, the versioned file first.
fn wheel_libraries(env_dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir(env_dir.join("lib")) else {
        return found;
    };
    for entry in entries.flatten() {
        let capi = entry.path().join("site-packages/onnxruntime/capi");
        let exact = capi.join(DYLIB_NAME);
        if exact.is_file() {
            found.push(exact);
            continue;
        }
        if let Ok(libs) = std::fs::read_dir(&capi) {
            found.extend(libs.flatten().map(|e| e.path()).filter(|p| {
                p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("libonnxruntime.so"))
            }));
        }
    }
    found
}

static ENVIRONMENT: OnceLock<(Environment, PathBuf)> = OnceLock::new();
static INIT_LOCK: Mutex<()> = Mutex::new(());

/// The process-wide ONNX Runtime environment, loading the library on first use.
///
/// The first successful load wins for the life of the process (ONNX Runtime cannot be unloaded).
pub fn environment(locator: &RuntimeLocator) -> Result<&'static Environment> {
    if let Some((env, _)) = ENVIRONMENT.get() {
        return Ok(env);
    }
    let _guard = INIT_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((env, _)) = ENVIRONMENT.get() {
        return Ok(env);
    }
    let candidates = locator.candidates();
    let mut last = String::from("no candidate library was found");
    for path in &candidates {
        if !path.is_file() {
            last = format!("{} does not exist", path.display());
            continue;
        }
        match ort::init_from(path) {
            Ok(builder) => match builder.with_name("prognos").with_telemetry(false).build() {
                Ok(env) => {
                    tracing::info!(path = %path.display(), "ONNX Runtime loaded");
                    let (env, _) = ENVIRONMENT.get_or_init(|| (env, path.clone()));
                    return Ok(env);
                }
                Err(e) => last = format!("{}: {e}", path.display()),
            },
            Err(e) => last = format!("{}: {e}", path.display()),
        }
    }
    let mut tried: Vec<String> = candidates.iter().map(|p| p.display().to_string()).collect();
    if locator.configured.is_none() {
        tried.insert(0, "models.ort_dylib_path (not set)".into());
    }
    if std::env::var_os("ORT_DYLIB_PATH").is_none() {
        tried.push("ORT_DYLIB_PATH (not set)".into());
    }
    tried.push(format!(
        "{}/lib/python3*/site-packages/onnxruntime/capi/ in this folder and its parents",
        locator.python_env.display()
    ));
    Err(ScoringError::RuntimeMissing { reason: last, tried: tried.join(", ") })
}

/// The library the process loaded, once [`environment`] has succeeded.
pub fn loaded_library() -> Option<&'static Path> {
    ENVIRONMENT.get().map(|(_, p)| p.as_path())
}
