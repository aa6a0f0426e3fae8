//! Pairing `.xml` and `.dat` files and deciding when a pair is complete.
//!
//! A file is complete when a file event says it was closed after writing or renamed into place, or, for files
//! found by a rescan (at start-up, or after a missed event), once its size and modification time have not
//! changed for the settle time. A pair is ready when both halves are complete; a half whose partner has not
//! appeared within the orphan timeout is an orphan.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

/// Which half of a pair a path is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Half {
    /// The `.xml` description.
    Xml,
    /// The `.dat` values.
    Dat,
}

/// The stem (path without extension) and half of a capture file; `None` for other files and hidden temporaries.
pub fn classify(path: &Path) -> Option<(PathBuf, Half)> {
    let name = path.file_name()?.to_str()?;
    if name.starts_with('.') {
        return None;
    }
    let half = match path.extension()?.to_str()? {
        "xml" => Half::Xml,
        "dat" => Half::Dat,
        _ => return None,
    };
    Some((path.with_extension(""), half))
}

#[derive(Debug, Clone)]
struct FileState {
    size: u64,
    modified: Option<SystemTime>,
    unchanged_since: Instant,
    complete: bool,
}

#[derive(Debug, Default)]
struct PairState {
    xml: Option<FileState>,
    dat: Option<FileState>,
    first_seen: Option<Instant>,
}

/// A pair whose two halves are complete.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadyPair {
    /// `dir/stem`.
    pub stem: PathBuf,
    /// When the pair became complete (for the latency metric).
    pub complete_at: Instant,
}

impl ReadyPair {
    /// The `.xml` path.
    pub fn xml(&self) -> PathBuf {
        self.stem.with_extension("xml")
    }
    /// The `.dat` path.
    pub fn dat(&self) -> PathBuf {
        self.stem.with_extension("dat")
    }
}

/// A half whose partner never came.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Orphan {
    /// `dir/stem`.
    pub stem: PathBuf,
    /// The half that is missing.
    pub missing: Half,
}

/// Tracks every capture file seen and not yet handed over.
#[derive(Debug)]
pub struct PairTracker {
    pending: HashMap<PathBuf, PairState>,
    settle: Duration,
    orphan: Duration,
}

impl PairTracker {
    /// A tracker with the pipeline's settle time and orphan timeout.
    pub fn new(settle: Duration, orphan: Duration) -> Self {
        Self { pending: HashMap::new(), settle, orphan }
    }

    fn half_mut(&mut self, stem: PathBuf, half: Half, now: Instant) -> &mut Option<FileState> {
        let pair = self.pending.entry(stem).or_default();
        pair.first_seen.get_or_insert(now);
        match half {
            Half::Xml => &mut pair.xml,
            Half::Dat => &mut pair.dat,
        }
    }

    /// A file event said `path` was closed after writing or renamed into place.
    pub fn mark_complete(&mut self, path: &Path, now: Instant) {
        if let Some((stem, half)) = classify(path) {
            let state = self.half_mut(stem, half, now);
            let (size, modified) = stat(path);
            *state = Some(FileState { size, modified, unchanged_since: now, complete: true });
        }
    }

    /// A rescan (or a create/modify event) saw `path` with this size and modification time.
    pub fn observe(&mut self, path: &Path, size: u64, modified: Option<SystemTime>, now: Instant) {
        let Some((stem, half)) = classify(path) else { return };
        let settle = self.settle;
        let state = self.half_mut(stem, half, now);
        match state {
            Some(s) if s.size == size && s.modified == modified => {
                if now.duration_since(s.unchanged_since) >= settle {
                    s.complete = true;
                }
            }
            Some(s) => {
                // Changed since last seen: still being written (even if an event said complete earlier).
                *s = FileState { size, modified, unchanged_since: now, complete: false };
            }
            None => *state = Some(FileState { size, modified, unchanged_since: now, complete: false }),
        }
    }

    /// Drops stems none of whose files exist any more (moved away by someone else).
    pub fn retain_existing(&mut self) {
        self.pending.retain(|stem, _| stem.with_extension("xml").exists() || stem.with_extension("dat").exists());
    }

    /// Removes and returns every pair whose halves are both complete, oldest stem name first.
    pub fn take_ready(&mut self, now: Instant) -> Vec<ReadyPair> {
        let ready: Vec<PathBuf> = self
            .pending
            .iter()
            .filter(|(_, p)| p.xml.as_ref().is_some_and(|f| f.complete) && p.dat.as_ref().is_some_and(|f| f.complete))
            .map(|(s, _)| s.clone())
            .collect();
        let mut out: Vec<ReadyPair> = ready
            .into_iter()
            .map(|stem| {
                self.pending.remove(&stem);
                ReadyPair { stem, complete_at: now }
            })
            .collect();
        out.sort_by(|a, b| a.stem.file_name().cmp(&b.stem.file_name()));
        out
    }

    /// Removes and returns every half whose partner has not appeared within the orphan timeout.
    pub fn take_orphans(&mut self, now: Instant) -> Vec<Orphan> {
        let orphan = self.orphan;
        let stale: Vec<(PathBuf, Half)> = self
            .pending
            .iter()
            .filter(|(_, p)| p.first_seen.is_some_and(|t| now.duration_since(t) >= orphan))
            .filter_map(|(s, p)| match (&p.xml, &p.dat) {
                (Some(_), None) => Some((s.clone(), Half::Dat)),
                (None, Some(_)) => Some((s.clone(), Half::Xml)),
                _ => None,
            })
            .collect();
        stale
            .into_iter()
            .map(|(stem, missing)| {
                self.pending.remove(&stem);
                Orphan { stem, missing }
            })
            .collect()
    }

    /// Number of stems being tracked.
    pub fn len(&self) -> usize {
        self.pending.len()
    }

    /// Whether nothing is tracked.
    pub fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }
}

fn stat(path: &Path) -> (u64, Option<SystemTime>) {
    std::fs::metadata(path).map(|m| (m.len(), m.modified().ok())).unwrap_or((0, None))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pair_is_ready_when_both_halves_are_complete() {
        let mut t = PairTracker::new(Duration::from_millis(500), Duration::from_secs(30));
        let now = Instant::now();
        t.mark_complete(Path::new("/c/Cam_01/a.xml"), now);
        assert!(t.take_ready(now).is_empty());
        t.mark_complete(Path::new("/c/Cam_01/a.dat"), now);
        t.mark_complete(Path::new("/c/Cam_01/.tmp.dat"), now);
        t.mark_complete(Path::new("/c/Cam_01/notes.txt"), now);
        let ready = t.take_ready(now);
        assert_eq!(ready.len(), 1);
        assert_eq!(ready[0].dat(), PathBuf::from("/c/Cam_01/a.dat"));
        assert!(t.is_empty());
    }

    #[test]
    fn files_written_in_place_are_complete_once_unchanged_for_the_settle_time() {
        let mut t = PairTracker::new(Duration::from_millis(500), Duration::from_secs(30));
        let t0 = Instant::now();
        let m = Some(SystemTime::UNIX_EPOCH);
        t.observe(Path::new("/c/b.xml"), 10, m, t0);
        t.observe(Path::new("/c/b.dat"), 100, m, t0);
        t.observe(Path::new("/c/b.dat"), 200, m, t0 + Duration::from_millis(400)); // still growing
        t.observe(Path::new("/c/b.xml"), 10, m, t0 + Duration::from_millis(600));
        t.observe(Path::new("/c/b.dat"), 200, m, t0 + Duration::from_millis(600));
        assert!(t.take_ready(t0 + Duration::from_millis(600)).is_empty(), "dat changed 200 ms ago");
        t.observe(Path::new("/c/b.dat"), 200, m, t0 + Duration::from_millis(950));
        assert_eq!(t.take_ready(t0 + Duration::from_millis(950)).len(), 1);
    }

    #[test]
    fn a_lone_half_becomes_an_orphan_after_the_timeout() {
        let mut t = PairTracker::new(Duration::from_millis(500), Duration::from_secs(30));
        let t0 = Instant::now();
        t.mark_complete(Path::new("/c/x.dat"), t0);
        assert!(t.take_orphans(t0 + Duration::from_secs(29)).is_empty());
        let orphans = t.take_orphans(t0 + Duration::from_secs(31));
        assert_eq!(orphans, vec![Orphan { stem: PathBuf::from("/c/x"), missing: Half::Xml }]);
    }
}
