//! A small SVG writer for time-series charts: a mean line over a min-max band, horizontal threshold lines, and
//! vertical markers (model-version changes, alerts). Every text is escaped; the output is self-contained (inline
//! styles), so it renders the same inline in a page, in a screenshot or saved to a file.

use std::fmt::Write;

use chrono::{DateTime, Duration, Utc};

/// One bucket (or one observation, where min = mean = max).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    /// Bucket start (or observation time).
    pub at: DateTime<Utc>,
    /// Lowest value in the bucket.
    pub min: f64,
    /// Mean value.
    pub mean: f64,
    /// Highest value.
    pub max: f64,
}

/// A line with its band.
#[derive(Debug, Clone)]
pub struct Series {
    /// Legend text.
    pub name: String,
    /// Stroke colour (CSS colour).
    pub color: &'static str,
    /// Points, oldest first.
    pub points: Vec<Point>,
}

/// What a vertical marker stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MarkerKind {
    /// A new model version started scoring the asset.
    ModelVersion,
    /// An alert started (fired or went pending).
    Alert,
}

/// A vertical line at a time, with a label.
#[derive(Debug, Clone)]
pub struct Marker {
    /// When.
    pub at: DateTime<Utc>,
    /// Label (e.g. `v1.1.0`, `alert #3`).
    pub label: String,
    /// Kind (colour and CSS class).
    pub kind: MarkerKind,
}

/// A horizontal line (e.g. the alert threshold).
#[derive(Debug, Clone)]
pub struct HLine {
    /// Its value on the y axis.
    pub value: f64,
    /// Label.
    pub label: String,
}

/// A chart over a time range.
#[derive(Debug, Clone)]
pub struct TimeChart {
    /// Title, drawn at the top.
    pub title: String,
    /// Pixel width.
    pub width: u32,
    /// Pixel height.
    pub height: u32,
    /// Left edge of the time axis.
    pub from: DateTime<Utc>,
    /// Right edge of the time axis.
    pub to: DateTime<Utc>,
    /// Fixed y range; `None` fits the data (and the lines) with a margin.
    pub y_range: Option<(f64, f64)>,
    /// Consecutive points further apart than this are not joined (a gap in the data).
    pub max_gap: Option<Duration>,
    /// The series.
    pub series: Vec<Series>,
    /// Horizontal lines.
    pub hlines: Vec<HLine>,
    /// Vertical markers.
    pub markers: Vec<Marker>,
}

const LEFT: f64 = 52.0;
const RIGHT: f64 = 16.0;
const TOP: f64 = 30.0;
const BOTTOM: f64 = 28.0;

/// Escapes text for XML content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A "nice" step (1, 2 or 5 x 10^k) giving about `ticks` intervals over `span`.
pub fn nice_step(span: f64, ticks: f64) -> f64 {
    if !(span.is_finite() && span > 0.0) {
        return 1.0;
    }
    let raw = span / ticks;
    let mag = 10f64.powf(raw.log10().floor());
    let norm = raw / mag;
    let nice = if norm <= 1.0 {
        1.0
    } else if norm <= 2.0 {
        2.0
    } else if norm <= 5.0 {
        5.0
    } else {
        10.0
    };
    nice * mag
}

/// A time step from a fixed ladder giving at most about 7 ticks over `span`, and the label format for it.
fn time_step(span: Duration) -> (Duration, &'static str) {
    const LADDER: &[(i64, &str)] = &[
        (1, "%H:%M:%S"),
        (5, "%H:%M:%S"),
        (15, "%H:%M:%S"),
        (60, "%H:%M"),
        (300, "%H:%M"),
        (900, "%H:%M"),
        (3600, "%H:%M"),
        (3 * 3600, "%d %b %H:%M"),
        (6 * 3600, "%d %b %H:%M"),
        (12 * 3600, "%d %b %H:%M"),
        (86_400, "%d %b"),
        (2 * 86_400, "%d %b"),
        (7 * 86_400, "%d %b"),
        (14 * 86_400, "%d %b"),
        (30 * 86_400, "%b %Y"),
        (91 * 86_400, "%b %Y"),
        (182 * 86_400, "%b %Y"),
        (365 * 86_400, "%Y"),
    ];
    let secs = span.num_seconds().max(1);
    for &(step, fmt) in LADDER {
        if secs / step <= 7 {
            return (Duration::seconds(step), fmt);
        }
    }
    let years = secs / (365 * 86_400) / 7 + 1;
    (Duration::seconds(years * 365 * 86_400), "%Y")
}

impl TimeChart {
    fn y_bounds(&self) -> (f64, f64) {
        if let Some(r) = self.y_range {
            return r;
        }
        let mut lo = f64::INFINITY;
        let mut hi = f64::NEG_INFINITY;
        for p in self.series.iter().flat_map(|s| &s.points) {
            for v in [p.min, p.max, p.mean] {
                if v.is_finite() {
                    lo = lo.min(v);
                    hi = hi.max(v);
                }
            }
        }
        for h in &self.hlines {
            lo = lo.min(h.value);
            hi = hi.max(h.value);
        }
        if !lo.is_finite() {
            return (0.0, 1.0);
        }
        if hi - lo < 1e-9 {
            let pad = if lo.abs() > 1e-9 { lo.abs() * 0.05 } else { 1.0 };
            return (lo - pad, hi + pad);
        }
        let pad = (hi - lo) * 0.08;
        (lo - pad, hi + pad)
    }

    /// The chart as an `<svg>` element.
    pub fn render(&self) -> String {
        let (w, h) = (f64::from(self.width), f64::from(self.height));
        let (pw, ph) = (w - LEFT - RIGHT, h - TOP - BOTTOM);
        let (y0, y1) = self.y_bounds();
        let span_ms = (self.to - self.from).num_milliseconds().max(1) as f64;
        let x = |t: DateTime<Utc>| LEFT + ((t - self.from).num_milliseconds() as f64 / span_ms).clamp(0.0, 1.0) * pw;
        let y = |v: f64| TOP + (1.0 - ((v - y0) / (y1 - y0)).clamp(0.0, 1.0)) * ph;
        let points: usize = self.series.iter().map(|s| s.points.len()).sum();
        let lowest = self.series.iter().flat_map(|s| &s.points).map(|p| p.min).fold(f64::INFINITY, f64::min);
        let mut out = String::with_capacity(4096 + points * 40);
        let _ = write!(
            out,
            r#"<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" width="{w}" height="{h}" viewBox="0 0 {w} {h}" data-points="{points}" data-lowest="{lowest}" font-family="system-ui,sans-serif" font-size="11">"#,
            lowest = if lowest.is_finite() { format!("{lowest:.3}") } else { String::new() },
        );
        let _ = write!(out, "<title>{}</title>", escape(&self.title));
        let _ = write!(out, r##"<rect x="0" y="0" width="{w}" height="{h}" fill="#ffffff"/>"##);
        let _ = write!(
            out,
            r##"<text x="{LEFT}" y="18" font-size="13" font-weight="600" fill="#222">{}</text>"##,
            escape(&self.title)
        );
        // Y grid and labels.
        let step = nice_step(y1 - y0, 5.0);
        let mut v = (y0 / step).ceil() * step;
        while v <= y1 + step * 1e-9 {
            let yy = y(v);
            let _ = write!(
                out,
                r##"<line x1="{LEFT}" x2="{x2}" y1="{yy:.1}" y2="{yy:.1}" stroke="#e6e6e6"/><text x="{tx}" y="{ty:.1}" text-anchor="end" fill="#555">{label}</text>"##,
                x2 = LEFT + pw,
                tx = LEFT - 6.0,
                ty = yy + 4.0,
                label = format_value(v, step),
            );
            v += step;
        }
        // Time axis.
        let (tstep, fmt) = time_step(self.to - self.from);
        let first = align(self.from, tstep);
        let mut t = first;
        while t <= self.to {
            if t >= self.from {
                let xx = x(t);
                let _ = write!(
                    out,
                    r##"<line x1="{xx:.1}" x2="{xx:.1}" y1="{TOP}" y2="{yb}" stroke="#f0f0f0"/><text x="{xx:.1}" y="{ty}" text-anchor="middle" fill="#555">{label}</text>"##,
                    yb = TOP + ph,
                    ty = TOP + ph + 16.0,
                    label = escape(&t.format(fmt).to_string()),
                );
            }
            t += tstep;
        }
        let _ = write!(out, r##"<rect x="{LEFT}" y="{TOP}" width="{pw}" height="{ph}" fill="none" stroke="#bbb"/>"##);
        // Bands and lines.
        for s in &self.series {
            for run in runs(&s.points, self.max_gap) {
                if run.len() > 1 && run.iter().any(|p| p.max > p.min) {
                    let mut d = String::new();
                    for p in run {
                        let _ = write!(d, "{:.1},{:.1} ", x(p.at), y(p.max));
                    }
                    for p in run.iter().rev() {
                        let _ = write!(d, "{:.1},{:.1} ", x(p.at), y(p.min));
                    }
                    let _ = write!(
                        out,
                        r#"<polygon class="band" points="{}" fill="{}" fill-opacity="0.15" stroke="none"/>"#,
                        d.trim_end(),
                        s.color
                    );
                }
                let mut d = String::new();
                for p in run {
                    let _ = write!(d, "{:.1},{:.1} ", x(p.at), y(p.mean));
                }
                if run.len() == 1 {
                    let p = run[0];
                    let _ = write!(
                        out,
                        r#"<circle class="point" cx="{:.1}" cy="{:.1}" r="2.5" fill="{}"/>"#,
                        x(p.at),
                        y(p.mean),
                        s.color
                    );
                } else {
                    let _ = write!(
                        out,
                        r#"<polyline class="series" data-series="{}" points="{}" fill="none" stroke="{}" stroke-width="1.8" stroke-linejoin="round"/>"#,
                        escape(&s.name),
                        d.trim_end(),
                        s.color
                    );
                }
                if run.len() <= 60 {
                    for p in run {
                        let _ = write!(
                            out,
                            r#"<circle cx="{:.1}" cy="{:.1}" r="2" fill="{}"><title>{} {}</title></circle>"#,
                            x(p.at),
                            y(p.mean),
                            s.color,
                            escape(&p.at.format("%Y-%m-%d %H:%M:%S").to_string()),
                            format_value(p.mean, 0.01)
                        );
                    }
                }
            }
        }
        // Threshold lines.
        for hl in &self.hlines {
            let yy = y(hl.value);
            let _ = write!(
                out,
                r##"<g class="threshold"><line x1="{LEFT}" x2="{x2}" y1="{yy:.1}" y2="{yy:.1}" stroke="#d62728" stroke-width="1.2" stroke-dasharray="6 4"/><text x="{tx}" y="{ty:.1}" text-anchor="end" fill="#d62728">{}</text></g>"##,
                escape(&hl.label),
                x2 = LEFT + pw,
                tx = LEFT + pw - 4.0,
                ty = yy - 4.0,
            );
        }
        // Markers.
        for (i, m) in self.markers.iter().enumerate() {
            if m.at < self.from || m.at > self.to {
                continue;
            }
            let xx = x(m.at);
            let (class, color, ty) = match m.kind {
                MarkerKind::ModelVersion => ("version-change", "#6a3d9a", TOP + 12.0 + (i % 3) as f64 * 12.0),
                MarkerKind::Alert => ("alert-marker", "#d62728", TOP + ph - 6.0 - (i % 3) as f64 * 12.0),
            };
            // A label that would run past the plot's right edge goes on the left of its line.
            let width = 7.0 * m.label.chars().count() as f64;
            let (tx, anchor) = if xx + 3.0 + width > LEFT + pw { (xx - 3.0, "end") } else { (xx + 3.0, "start") };
            let _ = write!(
                out,
                r##"<g class="{class}"><line x1="{xx:.1}" x2="{xx:.1}" y1="{TOP}" y2="{yb}" stroke="{color}" stroke-width="1.2" stroke-dasharray="2 3"/><text x="{tx:.1}" y="{ty:.1}" text-anchor="{anchor}" fill="{color}">{label}</text><title>{label} at {when}</title></g>"##,
                yb = TOP + ph,
                label = escape(&m.label),
                when = m.at.format("%Y-%m-%d %H:%M:%S UTC"),
            );
        }
        // Legend.
        let mut lx = LEFT + pw;
        for s in self.series.iter().rev() {
            lx -= 14.0 + 7.0 * s.name.chars().count() as f64;
            let _ = write!(
                out,
                r##"<rect x="{lx:.1}" y="9" width="10" height="10" fill="{}"/><text x="{:.1}" y="18" fill="#333">{}</text>"##,
                s.color,
                lx + 13.0,
                escape(&s.name)
            );
        }
        if points == 0 {
            let _ = write!(
                out,
                r##"<text x="{:.1}" y="{:.1}" text-anchor="middle" fill="#888" font-size="13">no data in this range</text>"##,
                LEFT + pw / 2.0,
                TOP + ph / 2.0
            );
        }
        out.push_str("</svg>");
        out
    }
}

/// Splits points into runs not separated by more than `max_gap`.
fn runs(points: &[Point], max_gap: Option<Duration>) -> Vec<&[Point]> {
    let mut out = Vec::new();
    let mut start = 0;
    for i in 1..points.len() {
        if max_gap.is_some_and(|g| points[i].at - points[i - 1].at > g) {
            out.push(&points[start..i]);
            start = i;
        }
    }
    if start < points.len() {
        out.push(&points[start..]);
    }
    out
}

/// The first multiple of `step` (from the Unix epoch) at or after `t`.
fn align(t: DateTime<Utc>, step: Duration) -> DateTime<Utc> {
    let s = step.num_seconds().max(1);
    let secs = t.timestamp();
    let aligned = secs.div_euclid(s) * s + if secs.rem_euclid(s) == 0 { 0 } else { s };
    DateTime::from_timestamp(aligned, 0).unwrap_or(t)
}

/// A value with as many decimals as `step` needs.
fn format_value(v: f64, step: f64) -> String {
    let decimals = if step >= 1.0 { 0 } else { (-step.log10().floor()) as usize };
    format!("{v:.decimals$}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 22, h, 0, 0).unwrap()
    }

    #[test]
    fn nice_steps() {
        assert_eq!(nice_step(100.0, 5.0), 20.0);
        assert_eq!(nice_step(1.0, 5.0), 0.2);
        assert_eq!(nice_step(7.0, 5.0), 2.0);
        assert_eq!(nice_step(0.0, 5.0), 1.0);
    }

    #[test]
    fn chart_draws_lines_thresholds_markers_and_escapes() {
        let points = (0..10)
            .map(|h| {
                let v = 95.0 - f64::from(h) * 5.0;
                Point { at: at(h), min: v - 2.0, mean: v, max: v + 2.0 }
            })
            .collect();
        let chart = TimeChart {
            title: "Health <W03> & co".into(),
            width: 600,
            height: 240,
            from: at(0),
            to: at(10),
            y_range: Some((0.0, 100.0)),
            max_gap: None,
            series: vec![Series { name: "health".into(), color: "#1f77b4", points }],
            hlines: vec![HLine { value: 70.0, label: "threshold 70".into() }],
            markers: vec![
                Marker { at: at(3), label: "v1.1.0".into(), kind: MarkerKind::ModelVersion },
                Marker { at: at(6), label: "alert #1".into(), kind: MarkerKind::Alert },
                Marker { at: at(12), label: "outside".into(), kind: MarkerKind::Alert },
            ],
        };
        let svg = chart.clone().render();
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert!(svg.contains("Health &lt;W03&gt; &amp; co"), "titles are escaped");
        assert!(!svg.contains("<W03>"));
        assert!(svg.contains(r#"data-points="10""#));
        assert!(svg.contains(r#"data-lowest="48.000""#));
        assert_eq!(svg.matches("class=\"threshold\"").count(), 1);
        assert_eq!(svg.matches("class=\"version-change\"").count(), 1);
        assert_eq!(svg.matches("class=\"alert-marker\"").count(), 1, "markers outside the range are left out");
        assert!(svg.contains(r##"text-anchor="start" fill="#d62728">alert #1<"##), "room on the right: label after");
        // A marker near the right edge keeps its label inside the plot: on the left of its line.
        let edge = TimeChart {
            markers: vec![Marker { at: at(10), label: "alert #2".into(), kind: MarkerKind::Alert }],
            ..chart
        };
        let svg = edge.render();
        assert!(svg.contains(r##"text-anchor="end" fill="#d62728">alert #2<"##), "{svg}");
        assert_eq!(svg.matches("<polyline").count(), 1);
        // The threshold at 70 on a 0..100 axis sits 30% down the plot area.
        let y70 = TOP + 0.3 * (240.0 - TOP - BOTTOM);
        assert!(svg.contains(&format!(r#"y1="{y70:.1}""#)));
    }

    #[test]
    fn gaps_split_lines_and_empty_charts_say_so() {
        let p = |h| Point { at: at(h), min: 1.0, mean: 1.0, max: 1.0 };
        let chart = TimeChart {
            title: "t".into(),
            width: 300,
            height: 200,
            from: at(0),
            to: at(12),
            y_range: None,
            max_gap: Some(Duration::hours(2)),
            series: vec![Series { name: "s".into(), color: "#000", points: vec![p(0), p(1), p(5), p(6)] }],
            hlines: vec![],
            markers: vec![],
        };
        assert_eq!(chart.render().matches("<polyline").count(), 2);
        let empty = TimeChart { series: vec![], ..chart };
        assert!(empty.render().contains("no data in this range"));
    }
}
