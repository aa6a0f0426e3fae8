//! Alerts that reach people and are never lost: rules and alert state (`engine`), the durable outbox
//! (`outbox`), and the notifiers (`notify`: Twilio SMS, SMTP email, webhook). `standins` (feature
//! `standins`) holds local servers that stand in for the providers in tests and in the demo.

pub mod engine;
pub mod notify;
pub mod outbox;
#[cfg(feature = "standins")]
pub mod standins;
