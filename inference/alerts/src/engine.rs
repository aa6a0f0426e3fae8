//! Rules and alert state.
