//! prognos-scoring
