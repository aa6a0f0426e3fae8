//! The `inverter-v1` schema: version, ordered names, units and meanings (kept in step with `FEATURES.md`).
//!
//! | # | name | unit | meaning |
//! |---|---|---|---|
//! | 0 | `efficiency` | ratio | sum of AC power / sum of DC power over daylight readings with DC power > 0 |
//! | 1 | `efficiency_vs_peers` | ratio - 1 | `efficiency` / median `efficiency` of the site's inverters in the same window, minus 1 |
//! | 2 | `specific_yield` | ratio | sum of AC power / sum of (irradiance / 1000 W/m2 x AC limit) over daylight readings |
//! | 3 | `peer_deviation` | ratio - 1 | sum of AC power / sum of the site's median AC power at the same timestamps, minus 1 (daylight) |
//! | 4 | `zero_output_share` | share | productive readings (high irradiance) with AC power below 1 % of the AC limit |
//! | 5 | `stale_run_hours` | h | longest run of consecutive readings with identical non-zero AC and DC power |
//! | 6 | `gap_count` | count | readings that follow the inverter's previous reading by more than 1.5 intervals |
//! | 7 | `temp_rise_at_load_c` | degC | mean inverter temperature minus ambient over readings at 30 % load or more |
//! | 8 | `clipping_share` | share | productive readings with AC power within 2 % of the AC limit |
//! | 9 | `degradation_pct_per_year` | %/yr | year-on-year median change of the daily performance index, or its normalised trend |
//! | 10 | `peer_trend_pct_per_day` | %/day | slope of the daily peer ratio over the last `trend_days` days |

/// Version of the feature set; models record it through their feature list.
pub const FEATURE_SET: &str = "inverter-v1";

/// Feature names in model-input and CSV order.
pub const FEATURE_NAMES: [&str; 11] = [
    "efficiency",
    "efficiency_vs_peers",
    "specific_yield",
    "peer_deviation",
    "zero_output_share",
    "stale_run_hours",
    "gap_count",
    "temp_rise_at_load_c",
    "clipping_share",
    "degradation_pct_per_year",
    "peer_trend_pct_per_day",
];

/// Number of `inverter-v1` features.
pub const FEATURE_COUNT: usize = FEATURE_NAMES.len();

/// The ordered feature names of `inverter-v1`.
pub fn feature_names() -> &'static [&'static str] {
    &FEATURE_NAMES
}

/// Index of each feature in a row's values.
pub(crate) mod idx {
    pub const EFFICIENCY: usize = 0;
    pub const EFFICIENCY_VS_PEERS: usize = 1;
    pub const SPECIFIC_YIELD: usize = 2;
    pub const PEER_DEVIATION: usize = 3;
    pub const ZERO_OUTPUT_SHARE: usize = 4;
    pub const STALE_RUN_HOURS: usize = 5;
    pub const GAP_COUNT: usize = 6;
    pub const TEMP_RISE_AT_LOAD: usize = 7;
    pub const CLIPPING_SHARE: usize = 8;
    pub const DEGRADATION: usize = 9;
    pub const PEER_TREND: usize = 10;
}
