//! prognos server library
