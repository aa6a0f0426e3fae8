//! Notifiers: one module per channel, each with its own config, client and health check.
