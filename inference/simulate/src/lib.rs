//! prognos-simulate
