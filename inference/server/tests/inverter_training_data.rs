//! `training-data/inverters/` is what `prognos simulate inverters` makes from the real Kaggle files with the
//! shipped pipelines and the commands in its README: the same bytes. This pins the pipelines' window settings
//! (alignment, `ac_limit_w`) to the ones the committed model was trained with.

use std::process::Command;

use prognos_tests::repo_root;

fn simulate(plant: u32, seed: u32, out: &std::path::Path, real: bool) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_prognos"));
    cmd.args(["simulate", "inverters", "--pipeline"])
        .arg(format!("pipelines/kaggle-plant-{plant}.toml"))
        .args(["--seed", &seed.to_string(), "--training-csv"])
        .arg(out.join(format!("kaggle-plant-{plant}.csv")));
    if real {
        cmd.arg("--real-csv").arg(out.join(format!("real-kaggle-plant-{plant}.csv")));
    }
    let out = cmd
        .arg(format!("../shared/data/real/kaggle-solar-plants/Plant_{plant}_Generation_Data.csv"))
        .current_dir(repo_root())
        .env("PROGNOS__LOG__FILTER", "warn")
        .output()
        .unwrap();
    assert!(out.status.success(), "prognos simulate inverters: {}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn the_committed_inverter_training_data_is_regenerated_byte_for_byte() {
    let dir = tempfile::tempdir().unwrap();
    simulate(1, 1, dir.path(), false);
    simulate(2, 2, dir.path(), true);
    for name in ["kaggle-plant-1.csv", "kaggle-plant-2.csv", "real-kaggle-plant-2.csv"] {
        let made = std::fs::read(dir.path().join(name)).unwrap();
        let committed = std::fs::read(repo_root().join("training-data/inverters").join(name)).unwrap();
        assert!(
            made == committed,
            "{name}: regenerated ({} bytes) differs from the committed file ({} bytes)",
            made.len(),
            committed.len()
        );
    }
}
