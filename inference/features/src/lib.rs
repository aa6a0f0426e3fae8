//! prognos-features
