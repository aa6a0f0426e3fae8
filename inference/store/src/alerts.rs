//! Alert state, silences, the notification outbox and source heartbeats (tables from `0002_alerts.sql`).
//!
//! The store keeps the facts; the rules that change them live in `prognos-alerts`. Two guarantees come from here:
//!
//! - An alert's state change and the notifications it causes are written in one [`AlertTx`]: the outbox row
//!   exists before anything is sent, and never without the change that caused it. At most one open (pending or
//!   firing) alert exists per (rule, asset): a partial unique index enforces it on both engines.
//! - A notification is handed to one sender at a time: [`Store::claim_notifications`] takes due rows with a lease
//!   (`FOR UPDATE SKIP LOCKED` on PostgreSQL), and a row marked sent is never claimed again.

mod outbox;
mod records;
pub(crate) mod rows;
mod state;
mod tx;

pub use records::{
    AckOutcome, AlertFilter, AlertRecord, AlertState, Claim, HeartbeatRecord, NewAlert, NewNotification, NewSilence,
    Notice, NotificationCounts, NotificationFilter, NotificationRecord, NotificationStatus, SilenceRecord, TrendPoint,
};
pub use tx::AlertTx;
