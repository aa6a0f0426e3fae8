//! The durable outbox and the worker that sends it.
