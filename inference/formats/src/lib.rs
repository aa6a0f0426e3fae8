//! File formats Prognos reads and writes: SICK iCon laser-triangulation captures (`.dat` + `.xml`).

pub mod icon;
