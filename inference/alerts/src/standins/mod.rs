//! Local stand-ins for the notification providers, for tests and the demo: a Twilio Messages API that holds
//! every request to Twilio's published OpenAPI description, and an SMTP sink (aiosmtpd) that keeps what it
//! receives.

mod openapi;
mod smtp_sink;
mod twilio;
mod twilio_resources;

pub use smtp_sink::SmtpSink;
pub use twilio::{ReceivedSms, StandInMode, TwilioStandIn};

/// Twilio's published OpenAPI description of the 2010-04-01 REST API (`twilio_api_v2010.json` from Twilio's
/// `twilio-oai` project, Apache-2.0; sha256 `99cae87a6bb1725f71363364cbd30282a13140374b2d5f9bdd5bdfa5d4c8a6d7`),
/// kept verbatim next to this module. Pass it to [`TwilioStandIn::start`]; the path is this crate's source
/// folder, so it is valid where the workspace is checked out (tests, the demo).
pub const TWILIO_OPENAPI_PATH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/src/standins/twilio_api_v2010.json");

/// `tests/support/smtp_sink.py` of the workspace checkout.
pub const SMTP_SINK_SCRIPT_PATH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/support/smtp_sink.py");
