//! `prognos-standins`: local stand-ins for Twilio and an SMTP server, for the demo main job. The Twilio
//! stand-in validates every request against Twilio's published OpenAPI description; the SMTP sink keeps every
//! message. Writes an `[alerts]` configuration pointing at both, then prints what arrives until Ctrl-C.
//!
//! `prognos-standins --config-out data/prognos.demo.toml --python .venv/bin/python [--dashboard-url URL]`

use std::path::PathBuf;
use std::time::Duration;

use prognos_alerts::standins::{SmtpSink, TwilioStandIn, SMTP_SINK_SCRIPT_PATH, TWILIO_OPENAPI_PATH};

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1).cloned())
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let out = PathBuf::from(arg("--config-out").unwrap_or_else(|| "prognos.demo.toml".into()));
    let python = PathBuf::from(arg("--python").unwrap_or_else(|| ".venv/bin/python".into()));
    let dashboard = arg("--dashboard-url").unwrap_or_else(|| "http://127.0.0.1:8080".into());
    let twilio = TwilioStandIn::start(std::path::Path::new(TWILIO_OPENAPI_PATH)).await?;
    let smtp = SmtpSink::start(&python, std::path::Path::new(SMTP_SINK_SCRIPT_PATH))?;
    let config = format!(
        r#"# Written by prognos-standins: alerts go to local stand-ins for Twilio and SMTP.
[alerts]
tick_ms = 250
[alerts.engine]
dashboard_url = "{dashboard}"
[alerts.engine.health]
threshold = 70.0
[alerts.engine.route]
name = "maintenance"
group_wait_ms = 2000
escalate_after_s = 300
levels = [[{{ name = "on-call technician", sms = "+15005550006", email = "maintenance@example.com" }}]]
[alerts.twilio]
base_url = "{}"
account_sid = "AC00000000000000000000000000000000"
auth_token = "stand-in-token"
from = "+15005550001"
[alerts.smtp]
host = "127.0.0.1"
port = {}
security = "plain"
from = "prognos@example.com"
"#,
        twilio.base_url(),
        smtp.port()
    );
    if let Some(dir) = out.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = out.with_extension("tmp");
    std::fs::write(&tmp, config)?;
    std::fs::rename(&tmp, &out)?;
    println!(
        "stand-ins: Twilio at {} (validating against the OpenAPI description), SMTP at 127.0.0.1:{}; config in {}",
        twilio.base_url(),
        smtp.port(),
        out.display()
    );
    let (mut seen_sms, mut seen_mail, mut seen_rejected) = (0, 0, 0);
    loop {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => break,
            _ = tokio::time::sleep(Duration::from_millis(300)) => {}
        }
        let sms = twilio.requests();
        for m in &sms[seen_sms..] {
            println!("stand-in Twilio: SMS to {}: {}", m.to, m.body);
        }
        seen_sms = sms.len();
        let rejected = twilio.rejected();
        for (status, why) in &rejected[seen_rejected..] {
            println!("stand-in Twilio: REFUSED ({status}): {why}");
        }
        seen_rejected = rejected.len();
        let mail = smtp.messages();
        for m in &mail[seen_mail..] {
            let subject = m.lines().find(|l| l.starts_with("Subject:")).unwrap_or("Subject: ?");
            println!("stand-in SMTP: email, {subject}");
        }
        seen_mail = mail.len();
    }
    twilio.stop().await;
    Ok(())
}
