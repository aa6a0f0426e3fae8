//! Read throughput: open a 2560 x 1000 capture (WORD range, BYTE intensity, extended mark), convert every
//! range value to a height and sum the intensity.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use prognos_formats::icon::{
    write_pair, Capture, CaptureData, IntensityName, Layout, MarkValues, RangePlane, RangeTraits,
    RangeValues,
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
    let mark = (0..PROFILES as i32)
        .map(|i| [i * 10, 0, i * 100, i * 100, i])
        .collect();
    CaptureData {
        layout: Layout::Subcomponent,
        width: WIDTH,
        profiles: PROFILES,
        component_name: "Ranger3Range".to_string(),
        range: RangeValues::Word(range),
        intensity: Some((IntensityName::Intensity, intensity)),
        scatter: None,
        mark: Some(MarkValues::Extended(mark)),
        range_traits: Some(RangeTraits::World {
            lower_x: -100.0,
            upper_x: 100.0,
            lower_r: 50.0,
            upper_r: 150.0,
        }),
        genistream: None,
    }
}

/// Opens the pair and touches every value; returns (height sum, valid points, intensity sum).
fn read(xml: &std::path::Path, dat: &std::path::Path) -> (f64, usize, u64) {
    let cap = Capture::open(xml, dat).expect("bench capture opens");
    let conv = cap.height_conversion();
    let mut sum = 0.0f64;
    let mut valid = 0usize;
    if let RangePlane::Word(p) = cap.range() {
        for row in p.iter_rows() {
            let (s, n) = row.iter().fold((0.0f32, 0u32), |(s, n), v| {
                match conv.to_height(f32::from(v)) {
                    Some(h) => (s + h, n + 1),
                    None => (s, n),
                }
            });
            sum += f64::from(s);
            valid += n as usize;
        }
    }
    let mut isum = 0u64;
    if let Some((_, p)) = cap.intensity() {
        for row in p.iter_rows() {
            isum += row.iter().map(u64::from).sum::<u64>();
        }
    }
    (sum, valid, isum)
}

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    let (xml, dat) = write_pair(&dir.path().join("bench"), &data()).expect("write bench capture");
    let bytes = std::fs::metadata(&dat).expect("dat metadata").len();
    let mut g = c.benchmark_group("icon");
    g.throughput(Throughput::Bytes(bytes));
    g.bench_function("open_convert_2560x1000_word", |b| {
        b.iter(|| black_box(read(black_box(&xml), black_box(&dat))))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
