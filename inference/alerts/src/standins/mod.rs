//! Local stand-ins for the notification providers.
