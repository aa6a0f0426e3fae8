//! Encoding a [`CaptureData`] into `.xml` + `.dat`, in memory or as an atomically published file pair.

use std::ffi::OsString;
use std::fmt::Write as _;
use std::fs::{self, File, OpenOptions};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use super::header::{MAX_LINE_SIZE, MAX_WIDTH};
use super::types::{CaptureData, GeniStreamTraits, MarkValues, RangeTraits, RangeValues};
use super::xml::check_dim;
use super::IconError;

/// Encodes a capture in memory: returns the `.xml` text and the `.dat` bytes.
pub fn encode(data: &CaptureData) -> Result<(String, Vec<u8>), IconError> {
    let planes = validate(data)?;
    let xml = header_xml(data, &planes)?;
    let dat = dat_bytes(data, &planes);
    Ok((xml, dat))
}

/// Writes `<stem>.xml` and `<stem>.dat` so that a watcher never sees a half-written pair.
///
/// Both files are written to temporary names in the same directory and fsynced; then the `.xml` is
/// renamed into place first and the `.dat` last, and the directory is fsynced. Returns `(xml, dat)` paths.
pub fn write_pair(stem: &Path, data: &CaptureData) -> Result<(PathBuf, PathBuf), IconError> {
    let (xml, dat) = encode(data)?;
    let xml_path = with_suffix(stem, ".xml");
    let dat_path = with_suffix(stem, ".dat");
    let xml_tmp = temp_name(&xml_path);
    let dat_tmp = temp_name(&dat_path);
    let result = (|| {
        write_synced(&xml_tmp, xml.as_bytes())?;
        write_synced(&dat_tmp, &dat)?;
        fs::rename(&xml_tmp, &xml_path).map_err(|e| IconError::io(&xml_path, e))?;
        fs::rename(&dat_tmp, &dat_path).map_err(|e| IconError::io(&dat_path, e))?;
        sync_dir(&dat_path);
        Ok((xml_path.clone(), dat_path.clone()))
    })();
    if result.is_err() {
        let _ = fs::remove_file(&xml_tmp);
        let _ = fs::remove_file(&dat_tmp);
    }
    result
}

fn with_suffix(stem: &Path, suffix: &str) -> PathBuf {
    let mut s = OsString::from(stem.as_os_str());
    s.push(suffix);
    PathBuf::from(s)
}

/// `dir/.name.tmp-<pid>-<n>`: hidden, and not ending in `.xml`/`.dat`, so watchers ignore it.
fn temp_name(target: &Path) -> PathBuf {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let mut name = OsString::from(".");
    name.push(target.file_name().unwrap_or_default());
    name.push(format!(".tmp-{}-{n}", std::process::id()));
    target.with_file_name(name)
}

fn write_synced(path: &Path, bytes: &[u8]) -> Result<(), IconError> {
    let mut f = OpenOptions::new().write(true).create_new(true).open(path).map_err(|e| IconError::io(path, e))?;
    f.write_all(bytes).map_err(|e| IconError::io(path, e))?;
    f.sync_all().map_err(|e| IconError::io(path, e))
}

/// Makes the renames durable; best effort (not every platform can open a directory).
fn sync_dir(file: &Path) {
    let dir = match file.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

/// Which part of the [`CaptureData`] a plane comes from.
#[derive(Clone, Copy)]
enum Source {
    Range,
    Intensity,
    Scatter,
    Mark,
}

/// One subcomponent to write: XML name, value type, width.
struct PlaneSpec {
    source: Source,
    name: &'static str,
    value_type: &'static str,
    width: usize,
    bpv: usize,
}

impl PlaneSpec {
    fn size(&self) -> usize {
        self.width * self.bpv
    }
}

fn validate(data: &CaptureData) -> Result<Vec<PlaneSpec>, IconError> {
    let width = check_dim("width", data.width as u64, 1, MAX_WIDTH)?;
    let profiles = check_dim("profiles", data.profiles as u64, 1, usize::MAX)?;
    let cells = width.checked_mul(profiles).ok_or(IconError::Dimension {
        what: "profiles x width".to_string(),
        value: u64::MAX,
        min: 1,
        max: usize::MAX as u64,
    })?;
    check_len("range", cells, data.range.len())?;
    let mut planes = vec![PlaneSpec {
        source: Source::Range,
        name: "Range",
        value_type: data.range.value_type().as_str(),
        width,
        bpv: data.range.value_type().bytes_per_value(),
    }];
    if let RangeValues::Float(v) = &data.range {
        if let Some(i) = v.iter().position(|x| !x.is_finite()) {
            return Err(IconError::NonFiniteRange { row: i / width, col: i % width, value: v[i] });
        }
    }
    if let Some((name, v)) = &data.intensity {
        check_len("intensity", cells, v.len())?;
        planes.push(byte_plane(Source::Intensity, name.as_str(), width));
    }
    if let Some(v) = &data.scatter {
        check_len("scatter", cells, v.len())?;
        planes.push(byte_plane(Source::Scatter, "Scatter", width));
    }
    if let Some(m) = &data.mark {
        check_len("mark", profiles, m.len())?;
        planes.push(PlaneSpec { source: Source::Mark, name: "Mark", value_type: "INT", width: m.words(), bpv: 4 });
    }
    let line: usize = planes.iter().map(PlaneSpec::size).sum();
    check_dim("bytes per profile line", line as u64, 1, MAX_LINE_SIZE)?;
    line.checked_mul(profiles).ok_or(IconError::Dimension {
        what: ".dat length".to_string(),
        value: u64::MAX,
        min: 1,
        max: usize::MAX as u64,
    })?;
    check_text("component name", &data.component_name)?;
    if let Some(g) = &data.genistream {
        if let Some(u) = &g.unit {
            check_text("unit", u)?;
        }
    }
    check_traits(data.range_traits.as_ref(), data.genistream.as_ref())?;
    Ok(planes)
}

fn byte_plane(source: Source, name: &'static str, width: usize) -> PlaneSpec {
    PlaneSpec { source, name, value_type: "BYTE", width, bpv: 1 }
}

fn check_len(what: &'static str, expected: usize, found: usize) -> Result<(), IconError> {
    if expected == found {
        Ok(())
    } else {
        Err(IconError::DataLength { what, expected, found })
    }
}

/// Text must survive the XML round trip unchanged: no control characters, no surrounding blanks.
fn check_text(what: &'static str, s: &str) -> Result<(), IconError> {
    if s.chars().any(char::is_control) || s.trim() != s {
        return Err(IconError::InvalidText { what, value: s.to_string() });
    }
    Ok(())
}

fn check_traits(t: Option<&RangeTraits>, g: Option<&GeniStreamTraits>) -> Result<(), IconError> {
    let mut values: Vec<(&'static str, f64)> = Vec::new();
    match t {
        Some(RangeTraits::World { lower_x, upper_x, lower_r, upper_r }) => values.extend([
            ("lower bound x", *lower_x),
            ("upper bound x", *upper_x),
            ("lower bound r", *lower_r),
            ("upper bound r", *upper_r),
        ]),
        Some(RangeTraits::Sensor { origin_x, scale_x, origin_z, scale_z, fov_x, fov_z }) => {
            values.extend([
                ("origin x", *origin_x),
                ("scale x", *scale_x),
                ("origin z", *origin_z),
                ("scale z", *scale_z),
            ]);
            values.extend(fov_x.iter().map(|v| ("fov x", *v)));
            values.extend(fov_z.iter().map(|v| ("fov z", *v)));
        }
        None => {}
    }
    if let Some(g) = g {
        values.extend([
            ("c axis range scale", g.c_scale),
            ("c axis range offset", g.c_offset),
            ("a axis range scale", g.a_scale),
            ("a axis range offset", g.a_offset),
        ]);
        values.extend(g.b_scale.map(|v| ("b axis range scale", v)));
        values.extend(g.missing_value.map(|v| ("c axis range missing value", v)));
    }
    match values.into_iter().find(|(_, v)| !v.is_finite()) {
        Some((name, v)) => Err(IconError::InvalidParameter {
            name: name.to_string(),
            context: "traits given to the writer".to_string(),
            value: v.to_string(),
        }),
        None => Ok(()),
    }
}

fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

fn header_xml(data: &CaptureData, planes: &[PlaneSpec]) -> Result<String, IconError> {
    let line: usize = planes.iter().map(PlaneSpec::size).sum();
    let mut x = String::new();
    let p = |x: &mut String, indent: &str, name: &str, value: &dyn std::fmt::Display| {
        let _ = writeln!(x, "{indent}<parameter name=\"{name}\">{value}</parameter>");
    };
    x.push_str("<icon_data_format valuetype=\"\" name=\"\">\n");
    p(&mut x, "  ", "size", &line);
    p(&mut x, "  ", "version", &1);
    p(&mut x, "  ", "layout", &data.layout.as_str());
    let _ = writeln!(x, "  <component valuetype=\"Hi3D\" name=\"{}\">", escape(&data.component_name));
    p(&mut x, "    ", "size", &line);
    p(&mut x, "    ", "height", &1);
    let i6 = "      ";
    match &data.range_traits {
        Some(RangeTraits::World { lower_x, upper_x, lower_r, upper_r }) => {
            x.push_str("    <worldrangetraits>\n");
            p(&mut x, i6, "lower bound x", lower_x);
            p(&mut x, i6, "lower bound r", lower_r);
            p(&mut x, i6, "upper bound x", upper_x);
            p(&mut x, i6, "upper bound r", upper_r);
            p(&mut x, i6, "coordinate unit", &"");
            x.push_str("    </worldrangetraits>\n");
        }
        Some(RangeTraits::Sensor { origin_x, scale_x, origin_z, scale_z, fov_x, fov_z }) => {
            x.push_str("    <sensorrangetraits>\n");
            for (i, v) in fov_x.iter().enumerate() {
                p(&mut x, i6, &format!("fov x{i}"), v);
            }
            for (i, v) in fov_z.iter().enumerate() {
                p(&mut x, i6, &format!("fov z{i}"), v);
            }
            p(&mut x, i6, "origin x", origin_x);
            p(&mut x, i6, "scale x", scale_x);
            p(&mut x, i6, "origin z", origin_z);
            p(&mut x, i6, "scale z", scale_z);
            x.push_str("    </sensorrangetraits>\n");
        }
        None => {}
    }
    if let Some(g) = &data.genistream {
        x.push_str("    <genistreamtraits>\n");
        p(&mut x, i6, "a axis range scale", &g.a_scale);
        p(&mut x, i6, "a axis range offset", &g.a_offset);
        if let Some(b) = g.b_scale {
            p(&mut x, i6, "b axis range scale", &b);
        }
        p(&mut x, i6, "c axis range scale", &g.c_scale);
        p(&mut x, i6, "c axis range offset", &g.c_offset);
        if let Some(m) = g.missing {
            p(&mut x, i6, "c axis range missing", &m);
        }
        if let Some(v) = g.missing_value {
            p(&mut x, i6, "c axis range missing value", &v);
        }
        if let Some(u) = &g.unit {
            p(&mut x, i6, "unit", &escape(u));
        }
        x.push_str("    </genistreamtraits>\n");
    }
    for s in planes {
        let _ = writeln!(x, "    <subcomponent valuetype=\"{}\" name=\"{}\">", s.value_type, s.name);
        p(&mut x, i6, "size", &s.size());
        p(&mut x, i6, "width", &s.width);
        x.push_str("    </subcomponent>\n");
    }
    x.push_str("  </component>\n</icon_data_format>\n");
    Ok(x)
}

/// Appends row `r` of one plane.
fn push_row(out: &mut Vec<u8>, data: &CaptureData, source: Source, r: usize) {
    let w = data.width;
    let cells = r * w..(r + 1) * w;
    match (source, &data.range, &data.intensity, &data.scatter, &data.mark) {
        (Source::Range, RangeValues::Word(v), ..) => {
            for x in &v[cells] {
                out.extend_from_slice(&x.to_le_bytes());
            }
        }
        (Source::Range, RangeValues::Float(v), ..) => {
            for x in &v[cells] {
                out.extend_from_slice(&x.to_le_bytes());
            }
        }
        (Source::Intensity, _, Some((_, v)), ..) | (Source::Scatter, _, _, Some(v), _) => {
            out.extend_from_slice(&v[cells]);
        }
        (Source::Mark, .., Some(m)) => {
            let words: &[i32] = match m {
                MarkValues::Extended(v) => &v[r],
                MarkValues::Standard(v) => &v[r],
            };
            for x in words {
                out.extend_from_slice(&x.to_le_bytes());
            }
        }
        // `validate` only lists planes that are present.
        _ => {}
    }
}

fn dat_bytes(data: &CaptureData, planes: &[PlaneSpec]) -> Vec<u8> {
    let line: usize = planes.iter().map(PlaneSpec::size).sum();
    let mut out = Vec::with_capacity(line * data.profiles);
    match data.layout {
        super::types::Layout::Subcomponent => {
            for p in planes {
                for r in 0..data.profiles {
                    push_row(&mut out, data, p.source, r);
                }
            }
        }
        super::types::Layout::Scan => {
            for r in 0..data.profiles {
                for p in planes {
                    push_row(&mut out, data, p.source, r);
                }
            }
        }
    }
    out
}
