//! Featurize throughput on a simulated 2560 x 1000 WORD capture (7.7 MB `.dat` with mark data).
//!
//! `cargo bench -p prognos-features --bench featurize`
//!
//! - `featurize/word_2560x1000`: [`featurize`] over a capture already parsed ([`Capture::from_bytes`]).
//! - `featurize/read_word_2560x1000`: header parse + validation from memory + featurize.
//! - `featurize/open_word_2560x1000`: `Capture::open` of the pair on disk (page cache warm: mmap, header
//!   parse, validation) + featurize: the ingest path.
//!
//! Throughput is reported in bytes of `.dat`; the target is 1 GB/s per core (about 7.7 ms here).

use std::hint::black_box;

use chrono::{TimeZone, Utc};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use prognos_features::{featurize, Surface};
use prognos_formats::icon::{encode, Capture, Layout};
use prognos_simulate::{simulate, Encoding, FailureMode, WheelSpec};

fn capture_bytes(encoding: Encoding) -> (String, Vec<u8>) {
    let at = Utc.with_ymd_and_hms(2026, 11, 22, 0, 21, 30).single().expect("valid time");
    let mut spec = WheelSpec::healthy("W07", "Cam_02", at, 7);
    spec.failure = Some((FailureMode::Chunking, 0.5));
    spec.width = 2560;
    spec.profiles = 1000;
    spec.encoding = encoding;
    spec.layout = Layout::Subcomponent;
    let data = simulate(&spec).expect("simulate");
    encode(&data).expect("encode")
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("featurize");
    for (name, encoding) in [("word_2560x1000", Encoding::WordWorld), ("float_2560x1000", Encoding::FloatMm)] {
        let (xml, dat) = capture_bytes(encoding);
        group.throughput(Throughput::Bytes(dat.len() as u64));
        let capture = Capture::from_bytes(&xml, dat.clone()).expect("read");
        group.bench_function(name, |b| {
            b.iter(|| {
                let surface = Surface::from_capture(black_box(&capture)).expect("surface");
                featurize(&surface).expect("featurize")
            })
        });
        group.bench_function(format!("read_{name}"), |b| {
            b.iter_batched(
                || dat.clone(),
                |dat| {
                    let capture = Capture::from_bytes(black_box(&xml), dat).expect("read");
                    let surface = Surface::from_capture(&capture).expect("surface");
                    featurize(&surface).expect("featurize")
                },
                criterion::BatchSize::LargeInput,
            )
        });
        let dir = tempfile::tempdir().expect("tempdir");
        let stem = dir.path().join("capture");
        let capture = Capture::from_bytes(&xml, dat).expect("read");
        let (xml_path, dat_path) = prognos_formats::icon::write_pair(&stem, &capture.to_data()).expect("write");
        group.bench_function(format!("open_{name}"), |b| {
            b.iter(|| {
                let capture = Capture::open(black_box(&xml_path), &dat_path).expect("open");
                let surface = Surface::from_capture(&capture).expect("surface");
                featurize(&surface).expect("featurize")
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
