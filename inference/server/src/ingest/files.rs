//! File moves that the folder sources share: into the archive or quarantine, and small files (reports,
//! reasons, exports) written so that a reader never sees half of one.

use std::path::{Path, PathBuf};

/// Renames `path` into `dir` (created if needed), keeping its name.
pub fn move_into(path: &Path, dir: &Path) -> std::io::Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    let target = dir.join(path.file_name().unwrap_or_default());
    std::fs::rename(path, &target)?;
    Ok(target)
}

/// Writes a file whole or not at all: a temporary name in the same folder, fsync, rename, then fsync of the
/// folder so that the rename survives a power cut.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)?;
    if let Some(dir) = path.parent() {
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}
