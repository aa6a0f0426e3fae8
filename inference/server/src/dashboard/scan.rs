//! A capture's scan as pictures: finds the archived `.xml`/`.dat` pair and draws its height map (colour scale)
//! and its intensity (grey scale) as PNG, block-averaged down to a screen-sized image.

use std::path::{Path, PathBuf};

use prognos_formats::icon::Capture;

/// Which plane to draw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Plane {
    /// The range (height) plane, converted to height; missing points drawn black.
    Height,
    /// The intensity (reflectance) plane.
    Intensity,
}

/// Why a picture could not be drawn.
#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    /// The capture's files are in none of the places they could be.
    #[error("the capture's files are no longer on disk (looked for {0})")]
    Gone(String),
    /// The files are there but cannot be read as an iCon capture.
    #[error("the capture's files cannot be read: {0}")]
    Unreadable(String),
    /// The capture has no such plane.
    #[error("the capture has no {0} plane")]
    NoPlane(&'static str),
    /// PNG encoding failed.
    #[error("PNG encoding failed: {0}")]
    Encode(String),
}

/// Where a capture's pair may be: beside its source stem (not yet archived), or in an archive folder as
/// `<archive>/<camera>/<stem file name>.{xml,dat}` (how `ingest::wheels` archives pairs).
pub fn locate(source: &str, camera: &str, archive_dirs: &[PathBuf]) -> Result<(PathBuf, PathBuf), ScanError> {
    let stem = Path::new(source);
    let mut tried = Vec::new();
    let mut candidates = vec![stem.to_path_buf()];
    if let Some(name) = stem.file_name() {
        candidates.extend(archive_dirs.iter().map(|d| d.join(camera).join(name)));
    }
    for c in candidates {
        let (xml, dat) = (c.with_extension("xml"), c.with_extension("dat"));
        if xml.is_file() && dat.is_file() {
            return Ok((xml, dat));
        }
        tried.push(c.display().to_string());
    }
    Err(ScanError::Gone(tried.join(", ")))
}

/// Draws one plane of the capture at `xml`/`dat` as a PNG no larger than `max_w` x `max_h` pixels
/// (columns across, profiles down).
pub fn render_png(xml: &Path, dat: &Path, plane: Plane, max_w: usize, max_h: usize) -> Result<Vec<u8>, ScanError> {
    let capture = Capture::open(xml, dat).map_err(|e| ScanError::Unreadable(e.to_string()))?;
    let (w, h, values) = match plane {
        Plane::Height => {
            let conv = capture.height_conversion();
            let range = capture.range();
            let mut values = Vec::with_capacity(range.width() * range.rows());
            let mut row_buf = Vec::new();
            for r in 0..range.rows() {
                if let Some(row) = range.row_raw(r) {
                    conv.heights_into(row, &mut row_buf);
                    values.extend_from_slice(&row_buf);
                }
            }
            (range.width(), range.rows(), values)
        }
        Plane::Intensity => {
            let (_, p) = capture.intensity().ok_or(ScanError::NoPlane("intensity"))?;
            (p.width(), p.rows(), p.to_vec().into_iter().map(f32::from).collect())
        }
    };
    if w == 0 || h == 0 || values.len() != w * h {
        return Err(ScanError::Unreadable(format!("{w} x {h} plane with {} values", values.len())));
    }
    let (ow, oh, small) = downsample(&values, w, h, max_w.max(1), max_h.max(1));
    let (lo, hi) = percentiles(&small);
    let mut rgb = Vec::with_capacity(ow * oh * 3);
    for v in &small {
        let px = if v.is_nan() {
            [0, 0, 0]
        } else {
            let t = if hi > lo { ((v - lo) / (hi - lo)).clamp(0.0, 1.0) } else { 0.5 };
            match plane {
                Plane::Height => colormap(t),
                Plane::Intensity => {
                    let g = (t * 255.0).round() as u8;
                    [g, g, g]
                }
            }
        };
        rgb.extend_from_slice(&px);
    }
    encode(ow, oh, &rgb)
}

/// Block means (ignoring NaN) down to at most `max_w` x `max_h`; a block of only NaN stays NaN.
pub fn downsample(values: &[f32], w: usize, h: usize, max_w: usize, max_h: usize) -> (usize, usize, Vec<f32>) {
    let fx = w.div_ceil(max_w).max(1);
    let fy = h.div_ceil(max_h).max(1);
    let (ow, oh) = (w.div_ceil(fx), h.div_ceil(fy));
    let mut sums = vec![0f64; ow * oh];
    let mut counts = vec![0u32; ow * oh];
    for y in 0..h {
        let oy = y / fy;
        for (x, v) in values[y * w..(y + 1) * w].iter().enumerate() {
            if !v.is_nan() {
                let i = oy * ow + x / fx;
                sums[i] += f64::from(*v);
                counts[i] += 1;
            }
        }
    }
    let out =
        sums.iter().zip(&counts).map(|(s, &c)| if c == 0 { f32::NAN } else { (s / f64::from(c)) as f32 }).collect();
    (ow, oh, out)
}

/// The 2nd and 98th percentiles of the finite values, so a few outliers do not wash out the picture.
fn percentiles(values: &[f32]) -> (f32, f32) {
    let mut v: Vec<f32> = values.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return (0.0, 1.0);
    }
    v.sort_by(f32::total_cmp);
    let at = |q: f64| v[((v.len() - 1) as f64 * q).round() as usize];
    (at(0.02), at(0.98))
}

/// A perceptually ordered colour scale (close to viridis): dark blue for low, yellow for high.
fn colormap(t: f32) -> [u8; 3] {
    const STOPS: [[f32; 3]; 5] =
        [[68.0, 1.0, 84.0], [59.0, 82.0, 139.0], [33.0, 145.0, 140.0], [94.0, 201.0, 98.0], [253.0, 231.0, 37.0]];
    let x = t.clamp(0.0, 1.0) * (STOPS.len() - 1) as f32;
    let i = (x.floor() as usize).min(STOPS.len() - 2);
    let f = x - i as f32;
    let mut out = [0u8; 3];
    for (k, o) in out.iter_mut().enumerate() {
        *o = (STOPS[i][k] + (STOPS[i + 1][k] - STOPS[i][k]) * f).round() as u8;
    }
    out
}

fn encode(w: usize, h: usize, rgb: &[u8]) -> Result<Vec<u8>, ScanError> {
    let mut out = Vec::new();
    {
        let width = u32::try_from(w).map_err(|e| ScanError::Encode(e.to_string()))?;
        let height = u32::try_from(h).map_err(|e| ScanError::Encode(e.to_string()))?;
        let mut enc = png::Encoder::new(&mut out, width, height);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        let mut writer = enc.write_header().map_err(|e| ScanError::Encode(e.to_string()))?;
        writer.write_image_data(rgb).map_err(|e| ScanError::Encode(e.to_string()))?;
        writer.finish().map_err(|e| ScanError::Encode(e.to_string()))?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn downsample_averages_blocks_and_keeps_missing() {
        let values = [1.0, 3.0, f32::NAN, f32::NAN, 5.0, 7.0, f32::NAN, f32::NAN];
        let (w, h, out) = downsample(&values, 4, 2, 2, 1);
        assert_eq!((w, h), (2, 1));
        assert_eq!(out[0], 4.0);
        assert!(out[1].is_nan());
    }

    #[test]
    fn colormap_runs_dark_to_bright() {
        assert_eq!(colormap(0.0), [68, 1, 84]);
        assert_eq!(colormap(1.0), [253, 231, 37]);
        let sum = |c: [u8; 3]| c.iter().map(|&v| u32::from(v)).sum::<u32>();
        assert!(sum(colormap(0.25)) < sum(colormap(0.75)));
    }

    #[test]
    fn missing_files_are_named() {
        let err = locate("/nowhere/Cam_01_20261122T000000000Z_W01", "Cam_01", &[PathBuf::from("/arch")]).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("/nowhere/Cam_01_20261122T000000000Z_W01"));
        assert!(text.contains("/arch/Cam_01/Cam_01_20261122T000000000Z_W01"));
    }

    #[test]
    fn png_is_valid() {
        let bytes = encode(2, 1, &[255, 0, 0, 0, 255, 0]).unwrap();
        let decoder = png::Decoder::new(std::io::Cursor::new(bytes));
        let reader = decoder.read_info().unwrap();
        assert_eq!((reader.info().width, reader.info().height), (2, 1));
    }
}
