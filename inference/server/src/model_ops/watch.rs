//! Watching the registry: a version folder renamed into `models/<name>/<version>` (how the training script and
//! `mv` of a finished folder install a model) triggers a reload of that model. Only rename events count: a
//! folder created in place and then filled is never read half-written (call `POST /v1/models/reload` for it).

use std::path::{Component, Path};
use std::time::Duration;

use notify::event::{EventKind, ModifyKind, RenameMode};
use notify::{RecursiveMode, Watcher};
use tokio_util::sync::CancellationToken;

use crate::state::AppState;

/// The model name when `path` is `<root>/<name>/<version>` and neither part is a dot-folder.
fn renamed_version(root: &Path, path: &Path) -> Option<String> {
    let rel = path.strip_prefix(root).ok()?;
    let parts: Vec<&str> = rel
        .components()
        .map(|c| match c {
            Component::Normal(s) => s.to_str(),
            _ => None,
        })
        .collect::<Option<_>>()?;
    match parts.as_slice() {
        [name, version] if !name.starts_with('.') && !version.starts_with('.') => Some((*name).to_string()),
        _ => None,
    }
}

/// Watches `models.dir` until `shutdown`; reloads a model when one of its version folders is renamed into
/// place. Events arriving together are handled as one reload per model.
pub fn spawn(state: AppState, shutdown: CancellationToken) -> anyhow::Result<tokio::task::JoinHandle<()>> {
    let root = state.settings.models.dir.clone();
    std::fs::create_dir_all(&root).map_err(|e| anyhow::anyhow!("cannot create {}: {e}", root.display()))?;
    let root = root.canonicalize().unwrap_or(root);
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<String>();
    let watch_root = root.clone();
    let mut watcher = notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
        let Ok(event) = res else { return };
        let to = match event.kind {
            EventKind::Modify(ModifyKind::Name(RenameMode::To)) => event.paths.first(),
            EventKind::Modify(ModifyKind::Name(RenameMode::Both)) => event.paths.get(1),
            _ => None,
        };
        if let Some(model) = to.and_then(|p| renamed_version(&watch_root, p)) {
            let _ = tx.send(model);
        }
    })?;
    watcher.watch(&root, RecursiveMode::Recursive)?;
    Ok(tokio::spawn(async move {
        let _watcher = watcher; // dropped (and stopped) with the task
        loop {
            let first = tokio::select! {
                m = rx.recv() => m,
                _ = shutdown.cancelled() => None,
            };
            let Some(first) = first else { break };
            tokio::time::sleep(Duration::from_millis(50)).await;
            let mut models = vec![first];
            while let Ok(m) = rx.try_recv() {
                if !models.contains(&m) {
                    models.push(m);
                }
            }
            for model in models {
                tracing::info!(model, "a version folder was renamed into the registry: reloading");
                if let Err(e) = super::reload(&state, Some(&model), "watcher").await {
                    tracing::error!(model, error = %e, "reload after a rename failed");
                }
            }
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_version_folders_count() {
        let root = Path::new("/m");
        assert_eq!(renamed_version(root, Path::new("/m/wheel-health/1.1.0")).as_deref(), Some("wheel-health"));
        assert_eq!(renamed_version(root, Path::new("/m/wheel-health/.staging-1")), None);
        assert_eq!(renamed_version(root, Path::new("/m/wheel-health/1.1.0/card.toml")), None);
        assert_eq!(renamed_version(root, Path::new("/m/wheel-health")), None);
        assert_eq!(renamed_version(root, Path::new("/elsewhere/a/b")), None);
    }
}
