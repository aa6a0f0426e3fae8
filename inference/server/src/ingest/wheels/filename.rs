//! Capture file names: `<camera>_<YYYYMMDD>T<HHMMSS><mmm>Z_<wheel>` (the camera may contain `_`), as the
//! station writes them and the simulator reproduces.

use chrono::{DateTime, NaiveDateTime, Utc};

/// What a capture's file stem says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StemInfo {
    /// Camera folder name.
    pub camera: String,
    /// Capture time.
    pub captured_at: DateTime<Utc>,
    /// The wheel id written by the station (the fallback when the RFID log has no read close enough).
    pub wheel: String,
}

/// Parses a stem; `None` when it does not follow the pattern.
pub fn parse_stem(stem: &str) -> Option<StemInfo> {
    let (rest, wheel) = stem.rsplit_once('_')?;
    let (camera, time) = rest.rsplit_once('_')?;
    if camera.is_empty() || wheel.is_empty() {
        return None;
    }
    let naive = NaiveDateTime::parse_from_str(time, "%Y%m%dT%H%M%S%3fZ").ok()?;
    Some(StemInfo { camera: camera.to_string(), captured_at: naive.and_utc(), wheel: wheel.to_string() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_station_pattern() {
        let info = parse_stem("Cam_01_20261122T002130123Z_W07").unwrap();
        assert_eq!(info.camera, "Cam_01");
        assert_eq!(info.wheel, "W07");
        assert_eq!(info.captured_at.to_rfc3339(), "2026-11-22T00:21:30.123+00:00");
        assert!(parse_stem("random").is_none());
        assert!(parse_stem("Cam_01_2026_W07").is_none());
    }
}
