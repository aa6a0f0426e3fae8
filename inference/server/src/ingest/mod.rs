//! Ingestion sources. Each source runs as a task under the root cancellation token and feeds one path:
//! parse -> features -> score -> store.

pub mod files;
pub mod inverters;
pub mod wheels;

/// A row's explanation drivers (from `ModelHandle::score_explained`) as the store keeps them.
pub fn contributions(drivers: Vec<prognos_scoring::Driver>) -> Vec<prognos_store::Contribution> {
    drivers
        .into_iter()
        .map(|d| prognos_store::Contribution {
            feature: d.feature,
            value: d.value,
            median: d.median,
            contribution: d.contribution,
        })
        .collect()
}
