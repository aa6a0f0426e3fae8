//! The Twilio SMS notifier against the local stand-in, which holds every request to Twilio's published OpenAPI
//! description; and the stand-in's own refusals of malformed requests.

use std::path::Path;
use std::time::{Duration, Instant};

use prognos_alerts::notify::{sms_segments, Channel, Message, Notifier, SendError, TwilioConfig, TwilioNotifier};
use prognos_alerts::standins::{StandInMode, TwilioStandIn, TWILIO_OPENAPI_PATH};
use secrecy::SecretString;
use serde_json::Value;

const SID: &str = "AC0123456789abcdef0123456789ABCDEF";
const TOKEN: &str = "tw-token-7f3e1c-must-never-print";
const FROM: &str = "+15005550006";
const SERVICE: &str = "MG00112233445566778899aabbccddeeff";

async fn stand_in() -> TwilioStandIn {
    let stand_in = TwilioStandIn::start(Path::new(TWILIO_OPENAPI_PATH)).await.expect("stand-in starts");
    stand_in.set_auth_token(Some(TOKEN));
    stand_in
}

fn config(base_url: String) -> TwilioConfig {
    TwilioConfig {
        base_url,
        account_sid: SID.to_owned(),
        auth_token: SecretString::from(TOKEN),
        from: Some(FROM.to_owned()),
        messaging_service_sid: None,
        timeout_ms: 2_000,
    }
}

fn sms(to: &str, text: &str) -> Message {
    Message {
        channel: Channel::Sms,
        to: to.to_owned(),
        subject: "unused for SMS".to_owned(),
        text: text.to_owned(),
        html: None,
        payload: Value::Null,
        idempotency_key: "alert-1.sms.0".to_owned(),
    }
}

fn is_sid(value: &str, prefix: &str) -> bool {
    value.len() == 34 && value.starts_with(prefix) && value[2..].bytes().all(|b| b.is_ascii_hexdigit())
}

#[tokio::test]
async fn sms_is_accepted_with_form_fields_basic_auth_and_a_recorded_sid() {
    let stand_in = stand_in().await;
    let notifier = TwilioNotifier::new(config(stand_in.base_url())).unwrap();
    assert_eq!(notifier.channel(), Channel::Sms);
    notifier.health().await.expect("health check fetches the account");

    let text = "Wheel W-17 health 42 (< 70): bearing wear suspected. Ack: https://prognos.local/a/1";
    let sent = notifier.send(&sms("+4915112345678", text)).await.expect("accepted");
    assert!(is_sid(&sent.provider_id, "SM"), "{}", sent.provider_id);

    let requests = stand_in.requests();
    assert_eq!(requests.len(), 1);
    let got = &requests[0];
    assert_eq!(got.sid, sent.provider_id);
    assert_eq!(got.account_sid, SID);
    assert_eq!(got.auth_user, SID);
    assert_eq!(got.to, "+4915112345678");
    assert_eq!(got.from.as_deref(), Some(FROM));
    assert_eq!(got.messaging_service_sid, None);
    assert_eq!(got.body, text);
    let names: Vec<&str> = got.fields.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(names, ["To", "From", "Body"]);
    assert!(stand_in.rejected().is_empty(), "{:?}", stand_in.rejected());
    stand_in.stop().await;
}

#[tokio::test]
async fn a_messaging_service_can_be_the_sender() {
    let stand_in = stand_in().await;
    let mut config = config(stand_in.base_url());
    config.from = None;
    config.messaging_service_sid = Some(SERVICE.to_owned());
    let notifier = TwilioNotifier::new(config).unwrap();
    notifier.send(&sms("+447700900123", "Inverter INV-3 silent for 15 min")).await.expect("accepted");
    let got = &stand_in.requests()[0];
    assert_eq!(got.messaging_service_sid.as_deref(), Some(SERVICE));
    assert_eq!(got.from, None);
    stand_in.stop().await;
}

/// Posts a raw form to the stand-in, as a hand-written client would.
async fn post(
    stand_in: &TwilioStandIn,
    account: &str,
    user: Option<(&str, &str)>,
    form: &[(&str, &str)],
) -> (u16, Value) {
    let url = format!("{}/2010-04-01/Accounts/{account}/Messages.json", stand_in.base_url());
    let mut request = reqwest::Client::new().post(url).form(form);
    if let Some((user, password)) = user {
        request = request.basic_auth(user, Some(password));
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn the_stand_in_refuses_malformed_requests_and_names_the_fault() {
    let stand_in = stand_in().await;
    let auth = Some((SID, TOKEN));
    let long = "x".repeat(5);
    // (form, expected status, expected Twilio code, words the message must contain)
    type Case<'a> = (Vec<(&'a str, &'a str)>, u16, u64, Vec<&'a str>);
    let cases: Vec<Case> = vec![
        (vec![("To", "0151 2345678"), ("From", FROM), ("Body", "hi")], 400, 21211, vec!["'To'", "E.164"]),
        (vec![("To", "+4915112345678"), ("From", "12345"), ("Body", "hi")], 400, 21212, vec!["'From'"]),
        (vec![("From", FROM), ("Body", "hi")], 400, 21604, vec!["'To'", "required"]),
        (vec![("To", "+4915112345678"), ("Body", "hi")], 400, 21603, vec!["From", "MessagingServiceSid"]),
        (vec![("To", "+4915112345678"), ("From", FROM)], 400, 21619, vec!["Body"]),
        (vec![("To", "+4915112345678"), ("From", FROM), ("Body", "")], 400, 21619, vec!["Body"]),
        (vec![("To", "+4915112345678"), ("From", FROM), ("Text", "hi")], 400, 20422, vec!["Text", "not a property"]),
        (
            vec![("To", "+4915112345678"), ("MessagingServiceSid", "MG123"), ("Body", "hi")],
            400,
            20422,
            vec!["MessagingServiceSid", "^MG[0-9a-fA-F]{32}$"],
        ),
        (
            vec![("To", "+4915112345678"), ("From", FROM), ("Body", "hi"), ("Body", "again")],
            400,
            20422,
            vec!["Body", "more than once"],
        ),
        (
            vec![("To", "+4915112345678"), ("From", FROM), ("Body", "hi"), ("ValidityPeriod", &long)],
            400,
            20422,
            vec!["ValidityPeriod", "integer"],
        ),
        (
            vec![("To", "+4915112345678"), ("From", FROM), ("Body", "hi"), ("StatusCallback", "not a url")],
            400,
            20422,
            vec!["StatusCallback", "uri"],
        ),
        (
            vec![("To", "+4915112345678"), ("From", FROM), ("Body", "hi"), ("ContentRetention", "forever")],
            400,
            20422,
            vec!["ContentRetention", "retain"],
        ),
    ];
    for (form, status, code, words) in &cases {
        let (got_status, body) = post(&stand_in, SID, auth, form).await;
        assert_eq!(got_status, *status, "{form:?}: {body}");
        assert_eq!(body["code"].as_u64(), Some(*code), "{form:?}: {body}");
        assert_eq!(body["status"].as_u64(), Some(u64::from(*status)), "{body}");
        assert_eq!(body["more_info"].as_str(), Some(format!("https://www.twilio.com/docs/errors/{code}").as_str()));
        let message = body["message"].as_str().unwrap();
        for word in words {
            assert!(message.contains(word), "{form:?}: {message:?} lacks {word:?}");
        }
    }

    // The account SID in the path must fit the description's pattern.
    let (status, body) = post(&stand_in, "AC123", Some(("AC123", TOKEN)), &[("To", "+4915112345678")]).await;
    assert_eq!(status, 400, "{body}");
    assert!(body["message"].as_str().unwrap().contains("AccountSid"), "{body}");

    // Basic auth: required, user = the path's AccountSid, password = the token.
    let form = [("To", "+4915112345678"), ("From", FROM), ("Body", "hi")];
    for user in [None, Some(("ACffffffffffffffffffffffffffffffff", TOKEN)), Some((SID, "wrong-token"))] {
        let (status, body) = post(&stand_in, SID, user, &form).await;
        assert_eq!((status, body["code"].as_u64()), (401, Some(20003)), "{user:?}: {body}");
    }

    // Content type from requestBody.content: JSON is not accepted.
    let url = format!("{}/2010-04-01/Accounts/{SID}/Messages.json", stand_in.base_url());
    let response = reqwest::Client::new()
        .post(&url)
        .basic_auth(SID, Some(TOKEN))
        .json(&serde_json::json!({"To": "+4915112345678", "From": FROM, "Body": "hi"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 415);
    assert!(response.text().await.unwrap().contains("application/x-www-form-urlencoded"));

    // Paths and methods come from the description.
    let response = reqwest::Client::new().delete(&url).basic_auth(SID, Some(TOKEN)).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 405);
    let response = reqwest::Client::new()
        .post(format!("{}/2010-04-01/Accounts/{SID}/Messagez.json", stand_in.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 404);

    assert!(stand_in.requests().is_empty(), "{:?}", stand_in.requests());
    assert_eq!(stand_in.rejected().len(), cases.len() + 1 + 3 + 1 + 2);

    // Documented in the description: From together with MessagingServiceSid picks a sender of the pool.
    let (status, body) = post(
        &stand_in,
        SID,
        auth,
        &[("To", "+4915112345678"), ("From", FROM), ("MessagingServiceSid", SERVICE), ("Body", "hi")],
    )
    .await;
    assert_eq!(status, 201, "{body}");
    stand_in.stop().await;
}

/// The rules come from the file: edit the description and the stand-in's verdicts change with it.
#[tokio::test]
async fn validation_follows_the_description_file() {
    let mut spec: Value = serde_json::from_slice(&std::fs::read(TWILIO_OPENAPI_PATH).unwrap()).unwrap();
    let schema = spec
        .pointer_mut("/paths/~12010-04-01~1Accounts~1{AccountSid}~1Messages.json/post/requestBody/content/application~1x-www-form-urlencoded/schema")
        .expect("CreateMessage form schema");
    schema["required"] = serde_json::json!(["To", "StatusCallback"]);
    schema["properties"].as_object_mut().unwrap().remove("Attempt");
    schema["properties"]["To"]["pattern"] = serde_json::json!("^\\+49");
    let dir = tempfile::tempdir().unwrap();
    let edited = dir.path().join("edited.json");
    std::fs::write(&edited, serde_json::to_vec(&spec).unwrap()).unwrap();

    let stand_in = TwilioStandIn::start(&edited).await.unwrap();
    let auth = Some((SID, TOKEN));
    let form = [("To", "+4915112345678"), ("From", FROM), ("Body", "hi")];
    let (status, body) = post(&stand_in, SID, auth, &form).await;
    assert_eq!(status, 400, "{body}");
    assert!(body["message"].as_str().unwrap().contains("StatusCallback is required"), "{body}");

    let with_callback = [("StatusCallback", "https://prognos.example/twilio/status"), ("Attempt", "1")];
    let form: Vec<(&str, &str)> = form.iter().chain(&with_callback).copied().collect();
    let (status, body) = post(&stand_in, SID, auth, &form).await;
    assert_eq!(status, 400, "{body}");
    assert!(body["message"].as_str().unwrap().contains("Attempt is not a parameter"), "{body}");

    let (status, body) = post(&stand_in, SID, auth, &form[..4]).await;
    assert_eq!(status, 201, "{body}");
    let mut us_number = form[..4].to_vec();
    us_number[0] = ("To", "+15005550010");
    let (status, body) = post(&stand_in, SID, auth, &us_number).await;
    assert_eq!((status, body["code"].as_u64()), (400, Some(21211)), "{body}");
    assert!(body["message"].as_str().unwrap().contains("^\\+49"), "{body}");
    stand_in.stop().await;

    // A description without the Messages operation cannot back the stand-in.
    spec["paths"].as_object_mut().unwrap().remove("/2010-04-01/Accounts/{AccountSid}/Messages.json");
    std::fs::write(&edited, serde_json::to_vec(&spec).unwrap()).unwrap();
    let error = TwilioStandIn::start(&edited).await.unwrap_err();
    assert_eq!(error.kind(), std::io::ErrorKind::InvalidData);
    assert!(error.to_string().contains("CreateMessage"), "{error}");
}

/// The 201 body, checked here against the description independently of the stand-in's own check.
#[tokio::test]
async fn accepted_messages_are_answered_with_a_resource_of_the_description() {
    let stand_in = stand_in().await;
    let (status, body) =
        post(&stand_in, SID, Some((SID, TOKEN)), &[("To", "+4915112345678"), ("From", FROM), ("Body", "Grüße €")])
            .await;
    assert_eq!(status, 201, "{body}");

    let spec: Value = serde_json::from_slice(&std::fs::read(TWILIO_OPENAPI_PATH).unwrap()).unwrap();
    let properties = spec["components"]["schemas"]["api.v2010.account.message"]["properties"].as_object().unwrap();
    let object = body.as_object().unwrap();
    for key in object.keys() {
        assert!(properties.contains_key(key), "{key} is not in the message schema");
    }
    assert!(is_sid(body["sid"].as_str().unwrap(), "SM"), "{body}");
    assert_eq!(body["status"], "queued");
    assert_eq!(body["to"], "+4915112345678");
    assert_eq!(body["from"], FROM);
    assert_eq!(body["body"], "Grüße €");
    assert_eq!(body["num_segments"], "1");
    assert_eq!(body["account_sid"], SID);
    assert!(chrono::DateTime::parse_from_rfc2822(body["date_created"].as_str().unwrap()).is_ok(), "{body}");
    assert_eq!(stand_in.requests()[0].sid, body["sid"].as_str().unwrap());
    stand_in.stop().await;
}

#[tokio::test]
async fn server_errors_and_hangs_are_transient() {
    let stand_in = stand_in().await;
    let mut config = config(stand_in.base_url());
    config.timeout_ms = 300;
    let notifier = TwilioNotifier::new(config).unwrap();

    stand_in.set_mode(StandInMode::Fail500);
    let error = notifier.send(&sms("+4915112345678", "x")).await.unwrap_err();
    assert!(matches!(&error, SendError::Transient { retry_after: None, .. }), "{error}");
    assert!(error.reason().contains("500"), "{error}");
    assert!(notifier.health().await.is_err());

    stand_in.set_mode(StandInMode::Hang);
    let started = Instant::now();
    let error = notifier.send(&sms("+4915112345678", "x")).await.unwrap_err();
    assert!(error.is_transient(), "{error}");
    assert!(error.reason().contains("no response within 300 ms"), "{error}");
    assert!(started.elapsed() < Duration::from_secs(3), "{:?}", started.elapsed());

    stand_in.set_mode(StandInMode::Ok);
    notifier.send(&sms("+4915112345678", "x")).await.expect("recovers");
    assert_eq!(stand_in.requests().len(), 1);
    stand_in.stop().await;
}

#[tokio::test]
async fn rate_limiting_is_transient_with_the_retry_after_delay() {
    let stand_in = stand_in().await;
    let notifier = TwilioNotifier::new(config(stand_in.base_url())).unwrap();
    stand_in.set_mode(StandInMode::RateLimit { retry_after_s: 17 });
    let error = notifier.send(&sms("+4915112345678", "x")).await.unwrap_err();
    assert!(error.is_transient(), "{error}");
    assert_eq!(error.retry_after(), Some(Duration::from_secs(17)), "{error}");
    assert!(error.reason().contains("429"), "{error}");
    assert_eq!(stand_in.rejected()[0].0, 429);
    stand_in.stop().await;
}

#[tokio::test]
async fn invalid_numbers_are_permanent_with_twilio_code_21211() {
    let stand_in = stand_in().await;
    let notifier = TwilioNotifier::new(config(stand_in.base_url())).unwrap();

    stand_in.set_mode(StandInMode::InvalidNumber);
    let error = notifier.send(&sms("+15005550001", "x")).await.unwrap_err();
    assert!(matches!(error, SendError::Permanent { .. }), "{error}");
    assert!(error.reason().contains("21211"), "{error}");

    // A number that is not E.164 at all is refused by the description's `phone-number` format, with the same code.
    stand_in.set_mode(StandInMode::Ok);
    let error = notifier.send(&sms("0151-2345678", "x")).await.unwrap_err();
    assert!(matches!(error, SendError::Permanent { .. }), "{error}");
    assert!(error.reason().contains("21211") && error.reason().contains("'To'"), "{error}");
    assert!(stand_in.requests().is_empty());
    stand_in.stop().await;
}

#[tokio::test]
async fn connection_failures_are_transient() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let closed = listener.local_addr().unwrap();
    drop(listener);
    let notifier = TwilioNotifier::new(config(format!("http://{closed}"))).unwrap();
    let error = notifier.send(&sms("+4915112345678", "x")).await.unwrap_err();
    assert!(error.is_transient(), "{error}");
    assert!(error.reason().contains("connect"), "{error}");
    assert!(notifier.health().await.is_err());
}

#[tokio::test]
async fn the_auth_token_never_appears_in_debug_output_or_errors() {
    let stand_in = stand_in().await;
    let mut config = config(stand_in.base_url());
    config.timeout_ms = 300;
    let mut texts = vec![format!("{config:?}")];
    let notifier = TwilioNotifier::new(config.clone()).unwrap();
    texts.push(format!("{notifier:?}"));
    let message = sms("+4915112345678", "x");
    for mode in [
        StandInMode::Fail500,
        StandInMode::RateLimit { retry_after_s: 1 },
        StandInMode::InvalidNumber,
        StandInMode::Hang,
    ] {
        stand_in.set_mode(mode);
        let error = notifier.send(&message).await.unwrap_err();
        texts.push(error.to_string());
        texts.push(format!("{error:?}"));
        texts.extend(notifier.health().await.err());
    }
    stand_in.set_mode(StandInMode::Ok);
    stand_in.set_auth_token(Some("another-token"));
    let error = notifier.send(&message).await.unwrap_err();
    assert!(matches!(error, SendError::Permanent { .. }) && error.reason().contains("20003"), "{error}");
    texts.push(format!("{error} {error:?}"));
    texts.extend(notifier.health().await.err());
    texts.extend(stand_in.rejected().into_iter().map(|(_, why)| why));
    for text in &texts {
        assert!(!text.contains(TOKEN), "token leaked: {text}");
    }
    assert!(texts[0].contains("REDACTED"), "{}", texts[0]);
    // The config can also come from a settings file.
    let from_file: TwilioConfig = serde_json::from_value(serde_json::json!({
        "account_sid": SID, "auth_token": TOKEN, "from": FROM
    }))
    .unwrap();
    assert!(!format!("{from_file:?}").contains(TOKEN));
    assert_eq!(from_file.base_url, "https://api.twilio.com");
    stand_in.stop().await;
}

#[test]
fn sms_segments_for_gsm_and_unicode_text() {
    // GSM-7: 160 characters fit one SMS, then 153 per segment; € and [ take two septets.
    assert_eq!(sms_segments("Wheel W-17 health 42 (< 70)"), 1);
    assert_eq!(sms_segments(&"a".repeat(160)), 1);
    assert_eq!(sms_segments(&"a".repeat(161)), 2);
    assert_eq!(sms_segments(&"a".repeat(306)), 2);
    assert_eq!(sms_segments(&"a".repeat(307)), 3);
    assert_eq!(sms_segments(&"€".repeat(81)), 2);
    assert_eq!(sms_segments("Prüfung fällig: Rad Ä-3 £5"), 1);
    // UCS-2 as soon as one character is outside GSM-7: 70, then 67 per segment.
    assert_eq!(sms_segments(&"ł".repeat(70)), 1);
    assert_eq!(sms_segments(&"ł".repeat(71)), 2);
    assert_eq!(sms_segments(&format!("{}ł", "a".repeat(69))), 1);
    assert_eq!(sms_segments(&format!("{}ł", "a".repeat(70))), 2);
    assert_eq!(sms_segments(&"車輪".repeat(67)), 2);
    assert_eq!(sms_segments(&"🚨".repeat(36)), 2);
}
