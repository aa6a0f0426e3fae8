//! prognos-core
