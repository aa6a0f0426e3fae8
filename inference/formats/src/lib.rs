//! prognos-formats
