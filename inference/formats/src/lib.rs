//! File formats Prognos reads and writes: SICK iCon laser-triangulation captures (`.dat` + `.xml`), and solar
//! inverter readings (CSV files and JSON batches mapped onto canonical metrics).

pub mod icon;
pub mod inverter;
