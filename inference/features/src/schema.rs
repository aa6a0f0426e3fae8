//! The `wheel-v1` feature schema: version, ordered names, units and meanings.
//!
//! The same table, with the normalisation explained for readers outside Rust, is in
//! `inference/features/FEATURES.md` (a test keeps the two in step).
//!
//! Heights are expressed in **percent of the measured tread width** (`%w`): a height in the capture's own
//! units (mm or sensor rows) divided by the tread width in the same capture's x units (mm or sensor
//! columns), times 100. For a 76 mm tread, 1 mm is 1.32 %w. This makes one model work for calibrated
//! and uncalibrated captures and for any column count; uncalibrated captures are assumed to have square
//! sensor pixels (one sensor row of height = one sensor column of width, see
//! [`crate::Surface::height_aspect`]). Lengths along the circumference are fractions of the profiles,
//! areas are fractions of tread cells or points, intensities are relative to the capture's own levels.
//!
//! | # | name | unit | meaning |
//! |---|---|---|---|
//! | 0 | `tread_height` | %w | median tread height above the hub rim (falls with even wear; 0 when no hub is visible) |
//! | 1 | `profile_concavity` | %w | quadratic coefficient of the median tread profile across the tread (centre sag below the edges; positive = concave) |
//! | 2 | `trough_depth` | %w | shoulders (outer 40 %) minus contact band (inner 40 %) of the median profile; positive = trough (compression set) |
//! | 3 | `profile_deviation` | %w | RMS of the median profile around its quadratic fit (steps, uneven shape) |
//! | 4 | `conicity` | %w | absolute tilt of the tread profile across its width relative to the hub, as height change over one tread width |
//! | 5 | `runout_spread` | %w | 95th minus 5th percentile of the per-profile tread level relative to the hub |
//! | 6 | `runout_once_per_turn` | %w | amplitude of the first harmonic of that level over the capture |
//! | 7 | `flat_spot_depth` | %w | deepest dip of consecutive profiles below the running median of the level |
//! | 8 | `flat_spot_length` | fraction of profiles | length of that dip (profiles deeper than half the dip) |
//! | 9 | `flat_spot_brightening` | relative | largest rise of per-profile tread intensity above its running median (glazing) |
//! | 10 | `pit_depth` | %w | deepest local depression of a tread cell below its column profile and row level |
//! | 11 | `pit_area` | fraction of tread cells | cells more than 0.4 %w below their surroundings, or mostly missing |
//! | 12 | `protrusion_height` | %w | highest local protrusion of a tread cell above its column profile and row level |
//! | 13 | `protrusion_area` | fraction of tread cells | cells more than 0.4 %w above their surroundings |
//! | 14 | `seam_bulge` | %w | largest rise of the outer tread cells (next to the tread-hub seam), smoothed over profiles |
//! | 15 | `roughness` | %w | within-cell height standard deviation on the tread, after removing the profile slope (median over cells) |
//! | 16 | `missing_fraction` | fraction of points | missing (range 0) points in the tread core |
//! | 17 | `crack_line_density` | fraction of points | tread-core points that are thin dark lines in intensity (darker than both neighbours a few points away, across or along) |
//! | 18 | `groove_density` | fraction of points | tread-core points that are narrow height grooves or isolated missing points |
//! | 19 | `dark_area` | fraction of tread cells | cells whose intensity is below 70 % of their column's median |
//! | 20 | `intensity_mean` | fraction of full scale | mean tread intensity / 255 |
//! | 21 | `intensity_band_contrast` | relative | contact-band intensity / shoulder intensity - 1 (negative = darker band) |
//! | 22 | `intensity_gradient` | relative | absolute slope of the tread intensity profile across the tread, relative to its mean, over one tread width |
//!
//! A "tread cell" is one profile times one of 64 equal column bins inside the tread core (the tread
//! minus 6 % of its width at each edge).

/// Name and version of this feature set; stored with every model card and feature CSV.
pub const FEATURE_SET_VERSION: &str = "wheel-v1";

/// One feature's name, unit and meaning (the rows of the table above).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FeatureInfo {
    /// Column name in feature CSVs and model cards.
    pub name: &'static str,
    /// Unit (see the module documentation for `%w`).
    pub unit: &'static str,
    /// What the value measures.
    pub meaning: &'static str,
}

/// Index of each feature in [`FEATURE_NAMES`] and in `FeatureRow::values`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(usize)]
pub enum Feature {
    /// `tread_height`
    TreadHeight,
    /// `profile_concavity`
    ProfileConcavity,
    /// `trough_depth`
    TroughDepth,
    /// `profile_deviation`
    ProfileDeviation,
    /// `conicity`
    Conicity,
    /// `runout_spread`
    RunoutSpread,
    /// `runout_once_per_turn`
    RunoutOncePerTurn,
    /// `flat_spot_depth`
    FlatSpotDepth,
    /// `flat_spot_length`
    FlatSpotLength,
    /// `flat_spot_brightening`
    FlatSpotBrightening,
    /// `pit_depth`
    PitDepth,
    /// `pit_area`
    PitArea,
    /// `protrusion_height`
    ProtrusionHeight,
    /// `protrusion_area`
    ProtrusionArea,
    /// `seam_bulge`
    SeamBulge,
    /// `roughness`
    Roughness,
    /// `missing_fraction`
    MissingFraction,
    /// `crack_line_density`
    CrackLineDensity,
    /// `groove_density`
    GrooveDensity,
    /// `dark_area`
    DarkArea,
    /// `intensity_mean`
    IntensityMean,
    /// `intensity_band_contrast`
    IntensityBandContrast,
    /// `intensity_gradient`
    IntensityGradient,
}

/// Number of features in `wheel-v1`.
pub const FEATURE_COUNT: usize = 23;

impl Feature {
    /// Every feature in schema order.
    pub const ALL: [Feature; FEATURE_COUNT] = [
        Feature::TreadHeight,
        Feature::ProfileConcavity,
        Feature::TroughDepth,
        Feature::ProfileDeviation,
        Feature::Conicity,
        Feature::RunoutSpread,
        Feature::RunoutOncePerTurn,
        Feature::FlatSpotDepth,
        Feature::FlatSpotLength,
        Feature::FlatSpotBrightening,
        Feature::PitDepth,
        Feature::PitArea,
        Feature::ProtrusionHeight,
        Feature::ProtrusionArea,
        Feature::SeamBulge,
        Feature::Roughness,
        Feature::MissingFraction,
        Feature::CrackLineDensity,
        Feature::GrooveDensity,
        Feature::DarkArea,
        Feature::IntensityMean,
        Feature::IntensityBandContrast,
        Feature::IntensityGradient,
    ];

    /// Position in [`FEATURE_NAMES`].
    pub const fn index(self) -> usize {
        self as usize
    }

    /// The column name.
    pub const fn name(self) -> &'static str {
        FEATURES[self as usize].name
    }

    /// The feature with this column name.
    pub fn from_name(name: &str) -> Option<Feature> {
        Feature::ALL.into_iter().find(|f| f.name() == name)
    }
}

/// Names, units and meanings of the features, in schema order.
pub const FEATURES: [FeatureInfo; FEATURE_COUNT] = [
    info("tread_height", "%w", "median tread height above the hub rim"),
    info("profile_concavity", "%w", "quadratic coefficient of the median tread profile (positive = concave)"),
    info("trough_depth", "%w", "shoulders minus contact band of the median profile (positive = trough)"),
    info("profile_deviation", "%w", "RMS of the median profile around its quadratic fit"),
    info("conicity", "%w", "absolute tilt of the tread relative to the hub over one tread width"),
    info("runout_spread", "%w", "p95 - p5 of the per-profile tread level relative to the hub"),
    info("runout_once_per_turn", "%w", "first-harmonic amplitude of the per-profile tread level"),
    info("flat_spot_depth", "%w", "deepest dip of consecutive profiles below the running median level"),
    info("flat_spot_length", "fraction of profiles", "length of that dip"),
    info("flat_spot_brightening", "relative", "largest rise of per-profile tread intensity above its running median"),
    info("pit_depth", "%w", "deepest local depression of a tread cell"),
    info("pit_area", "fraction of tread cells", "cells 0.4 %w below their surroundings or mostly missing"),
    info("protrusion_height", "%w", "highest local protrusion of a tread cell"),
    info("protrusion_area", "fraction of tread cells", "cells 0.4 %w above their surroundings"),
    info("seam_bulge", "%w", "largest smoothed rise of the outer tread cells at the tread-hub seam"),
    info("roughness", "%w", "median within-cell height standard deviation after removing the profile slope"),
    info("missing_fraction", "fraction of points", "missing points in the tread core"),
    info("crack_line_density", "fraction of points", "tread-core points on thin dark intensity lines"),
    info("groove_density", "fraction of points", "tread-core points in narrow height grooves or isolated gaps"),
    info("dark_area", "fraction of tread cells", "cells darker than 70 % of their column median"),
    info("intensity_mean", "fraction of full scale", "mean tread intensity / 255"),
    info("intensity_band_contrast", "relative", "contact-band / shoulder intensity - 1"),
    info("intensity_gradient", "relative", "absolute intensity slope across the tread, relative to the mean"),
];

const fn info(name: &'static str, unit: &'static str, meaning: &'static str) -> FeatureInfo {
    FeatureInfo { name, unit, meaning }
}

/// The ordered feature names of `wheel-v1` (the CSV columns between `wheel` and `label`).
pub const FEATURE_NAMES: [&str; FEATURE_COUNT] = {
    let mut out = [""; FEATURE_COUNT];
    let mut i = 0;
    while i < FEATURE_COUNT {
        out[i] = FEATURES[i].name;
        i += 1;
    }
    out
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enum_and_table_agree() {
        for (i, f) in Feature::ALL.into_iter().enumerate() {
            assert_eq!(f.index(), i);
            assert_eq!(Feature::from_name(f.name()), Some(f));
        }
        let mut names = FEATURE_NAMES.to_vec();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), FEATURE_COUNT, "names are unique");
    }

    #[test]
    fn features_md_lists_every_feature_in_order() {
        let md = include_str!("../FEATURES.md");
        let mut from = 0;
        for (i, name) in FEATURE_NAMES.iter().enumerate() {
            let row = format!("| {i} | `{name}` | {} |", FEATURES[i].unit);
            let at = md[from..].find(&row).unwrap_or_else(|| panic!("FEATURES.md row missing or out of order: {row}"));
            from += at + row.len();
        }
        assert!(md.contains(FEATURE_SET_VERSION));
    }

    #[test]
    fn module_doc_table_lists_every_feature_in_order() {
        let doc = include_str!("schema.rs");
        for (i, name) in FEATURE_NAMES.iter().enumerate() {
            let row = format!("//! | {i} | `{name}` |");
            assert!(doc.contains(&row), "doc table row missing: {row}");
        }
    }
}
