//! The resources the Twilio stand-in answers with: built from the keys the description's response schema
//! declares (every other key stays `null`) and checked against that schema before they are sent.

use chrono::Utc;
use rand::Rng as _;
use serde_json::{json, Map, Value};

use super::openapi::{Operation, Spec};
use super::twilio::ReceivedSms;
use crate::notify::sms_segments;

/// `prefix` + 32 random hex digits.
pub(super) fn new_sid(prefix: &str) -> String {
    let bytes: [u8; 16] = rand::rng().random();
    format!("{prefix}{}", hex::encode(bytes))
}

/// The message resource (`api.v2010.account.message`) for an accepted SMS.
pub(super) fn message(spec: &Spec, op: &Operation, sms: &ReceivedSms, media: usize) -> Result<Value, String> {
    let date = sms.at.to_rfc2822();
    let uri = format!("/2010-04-01/Accounts/{}/Messages/{}", sms.account_sid, sms.sid);
    fill(
        spec,
        op,
        vec![
            ("account_sid", json!(sms.account_sid)),
            ("api_version", json!("2010-04-01")),
            ("body", json!(sms.body)),
            ("date_created", json!(date)),
            ("date_updated", json!(date)),
            ("direction", json!("outbound-api")),
            ("from", json!(sms.from)),
            ("messaging_service_sid", json!(sms.messaging_service_sid)),
            ("num_media", json!(media.to_string())),
            ("num_segments", json!(sms_segments(&sms.body).to_string())),
            ("sid", json!(sms.sid)),
            ("status", json!("queued")),
            ("subresource_uris", json!({"media": format!("{uri}/Media.json")})),
            ("to", json!(sms.to)),
            ("uri", json!(format!("{uri}.json"))),
        ],
    )
}

/// The account resource (`api.v2010.account`): active, full. Its `auth_token` stays `null`.
pub(super) fn account(spec: &Spec, op: &Operation, account_sid: &str) -> Result<Value, String> {
    let date = Utc::now().to_rfc2822();
    fill(
        spec,
        op,
        vec![
            ("sid", json!(account_sid)),
            ("owner_account_sid", json!(account_sid)),
            ("friendly_name", json!("Prognos stand-in account")),
            ("status", json!("active")),
            ("type", json!("Full")),
            ("date_created", json!(date)),
            ("date_updated", json!(date)),
            ("uri", json!(format!("/2010-04-01/Accounts/{account_sid}.json"))),
        ],
    )
}

fn fill(spec: &Spec, op: &Operation, values: Vec<(&str, Value)>) -> Result<Value, String> {
    let mut object: Map<String, Value> =
        spec.property_names(&op.success.1).into_iter().map(|key| (key, Value::Null)).collect();
    for (key, value) in values {
        let slot = object.get_mut(key).ok_or_else(|| format!("{key} is not in the {} response schema", op.id))?;
        *slot = value;
    }
    let object = Value::Object(object);
    spec.check_json(&op.success.1, &object, "response")?;
    Ok(object)
}
