//! Read throughput: open a 2560 x 1000 capture (WORD range, BYTE intensity, extended mark), convert every
//! range value to a height and sum the intensity.

use std::hint::black_box;
use std::path::Path;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use prognos_formats::icon::{
    write_pair, Capture, CaptureData, IntensityName, Layout, MarkValues, RangePlane, RangeTraits, RangeValues,
};

const WIDTH: usize = 2560;
const PROFILES: usize = 1000;

fn data() -> CaptureData {
    let cells = WIDTH * PROFILES;
    // Deterministic pseudo-random values with about 5 % missing points.
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let range = (0..cells)
        .map(|_| {
            let r = next();
            if r % 20 == 0 {
                0
            } else {
                (r >> 16) as u16 | 1
            }
        })
        .collect();
    let intensity = (0..cells).map(|_| next() as u8).collect();
    let mark = (0..PROFILES as i32).map(|i| [i * 10, 0, i * 100, i * 100, i]).collect();
    CaptureData {
        layout: Layout::Subcomponent,
        width: WIDTH,
        profiles: PROFILES,
        component_name: "Ranger3Range".to_string(),
        range: RangeValues::Word(range),
        intensity: Some((IntensityName::Intensity, intensity)),
        scatter: None,
        mark: Some(MarkValues::Extended(mark)),
        range_traits: Some(RangeTraits::World { lower_x: -100.0, upper_x: 100.0, lower_r: 50.0, upper_r: 150.0 }),
        genistream: None,
    }
}

/// Opens the pair, converts every range value with `to_height`, sums intensity.
/// Returns (height sum, valid points, intensity sum).
fn read_per_value(xml: &Path, dat: &Path) -> (f64, usize, u64) {
    let cap = Capture::open(xml, dat).expect("bench capture opens");
    let conv = cap.height_conversion();
    let mut sum = 0.0f64;
    let mut valid = 0usize;
    if let RangePlane::Word(p) = cap.range() {
        for row in p.iter_rows() {
            let (s, n) = row.iter().fold((0.0f32, 0u32), |(s, n), v| match conv.to_height(f32::from(v)) {
                Some(h) => (s + h, n + 1),
                None => (s, n),
            });
            sum += f64::from(s);
            valid += n as usize;
        }
    }
    (sum, valid, intensity_sum(&cap))
}

/// Opens the pair, converts each range row with `heights_into` into a reused buffer and sums it
/// (8 lanes, NaN = missing skipped), sums intensity.
fn read_rows(xml: &Path, dat: &Path) -> (f64, usize, u64) {
    let cap = Capture::open(xml, dat).expect("bench capture opens");
    let conv = cap.height_conversion();
    let range = cap.range();
    let mut buf = Vec::with_capacity(cap.width());
    let mut sum = 0.0f64;
    let mut valid = 0usize;
    for r in 0..range.rows() {
        let Some(row) = range.row_raw(r) else { break };
        conv.heights_into(row, &mut buf);
        let mut acc = [0.0f32; 8];
        let mut cnt = [0u32; 8];
        let chunks = buf.chunks_exact(8);
        let tail = chunks.remainder();
        for c in chunks {
            for i in 0..8 {
                let ok = !c[i].is_nan();
                acc[i] += if ok { c[i] } else { 0.0 };
                cnt[i] += u32::from(ok);
            }
        }
        for &h in tail.iter().filter(|h| !h.is_nan()) {
            acc[0] += h;
            cnt[0] += 1;
        }
        sum += acc.iter().map(|&a| f64::from(a)).sum::<f64>();
        valid += cnt.iter().sum::<u32>() as usize;
    }
    (sum, valid, intensity_sum(&cap))
}

fn intensity_sum(cap: &Capture) -> u64 {
    let mut isum = 0u64;
    if let Some((_, p)) = cap.intensity() {
        for row in p.iter_rows() {
            isum += row.as_bytes().iter().map(|&b| u64::from(b)).sum::<u64>();
        }
    }
    isum
}

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    let (xml, dat) = write_pair(&dir.path().join("bench"), &data()).expect("write bench capture");
    let bytes = std::fs::metadata(&dat).expect("dat metadata").len();
    let mut g = c.benchmark_group("icon");
    g.throughput(Throughput::Bytes(bytes));
    let (a, b) = (read_per_value(&xml, &dat), read_rows(&xml, &dat));
    assert_eq!((a.1, a.2), (b.1, b.2), "both readers see the same points");
    assert!((a.0 - b.0).abs() / a.0.abs() < 1e-4, "height sums agree");
    g.bench_function("open_convert_2560x1000_word/heights_into", |bch| {
        bch.iter(|| black_box(read_rows(black_box(&xml), black_box(&dat))))
    });
    g.bench_function("open_convert_2560x1000_word/to_height_per_value", |bch| {
        bch.iter(|| black_box(read_per_value(black_box(&xml), black_box(&dat))))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
