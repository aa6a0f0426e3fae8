//! Times `training_rows` (simulate, encode, read back, featurize) on one thread.
//!
//! `cargo run --release -p prognos-simulate --example training_speed [COUNT]`

use std::time::Instant;

use prognos_simulate::{training_rows, PlanOptions};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let count: usize = std::env::args().nth(1).and_then(|s| s.parse().ok()).unwrap_or(200);
    let t = Instant::now();
    let rows = training_rows(1, count, &PlanOptions::default())?;
    let s = t.elapsed().as_secs_f64();
    println!("{} rows in {s:.2} s: {:.1} ms per row", rows.len(), 1e3 * s / rows.len() as f64);
    Ok(())
}
