//! A local stand-in for Twilio's Messages API that holds every request to Twilio's published OpenAPI
//! description (`twilio_api_v2010.json`): it serves `CreateMessage` (`POST .../Messages.json`) and
//! `FetchAccount` (`GET /2010-04-01/Accounts/{Sid}.json`, the notifier's health check) and `ListMessage` (`GET
//! .../Messages.json`, which the notifier reads before re-sending a message that may have been delivered),
//! refuses what the description (or Twilio's documented rules) forbids with Twilio-shaped errors, and can be told
//! to fail, hang, or accept a message and then lose the reply.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::header::{CONTENT_TYPE, RETRY_AFTER, WWW_AUTHENTICATE};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use base64::Engine as _;
use chrono::{DateTime, Utc};
use serde_json::json;
use tokio_util::sync::CancellationToken;

use super::openapi::{Fault, FaultKind, Operation, Route, Spec};
use super::twilio_resources as resources;

/// How the stand-in answers requests; switch at any time with [`TwilioStandIn::set_mode`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StandInMode {
    /// Validate and accept (201) what the description allows.
    #[default]
    Ok,
    /// Answer every request with 500 (Twilio error 20500).
    Fail500,
    /// Answer every request with 429 and `Retry-After: retry_after_s` (Twilio error 20429).
    RateLimit {
        /// The `Retry-After` value, in seconds.
        retry_after_s: u64,
    },
    /// Accept the connection and never answer (until the stand-in stops).
    Hang,
    /// Validate, then refuse the message as Twilio does for an unreachable number: 400, error 21211.
    InvalidNumber,
    /// Validate and accept the message (it is recorded, as Twilio would send it), then never answer: the reply is
    /// lost after acceptance. Other requests (list, account) are answered normally.
    AcceptThenHang,
    /// Validate and accept the message at once (recorded with the time of receipt), but answer only after
    /// `delay_ms`: a slow provider, and a window in which the sender may die after acceptance.
    AcceptSlowly {
        /// How long the answer is held back, in milliseconds.
        delay_ms: u64,
    },
}

/// An SMS the stand-in accepted (answered 201).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedSms {
    /// The `AccountSid` of the path.
    pub account_sid: String,
    /// The basic-auth user name (always equal to `account_sid`, or the request was refused).
    pub auth_user: String,
    /// `To`.
    pub to: String,
    /// `From`, if given.
    pub from: Option<String>,
    /// `MessagingServiceSid`, if given.
    pub messaging_service_sid: Option<String>,
    /// `Body` (empty when the message had only media or a content template).
    pub body: String,
    /// Every form field as received, in order.
    pub fields: Vec<(String, String)>,
    /// The SID the stand-in gave the message (`SM` + 32 hex digits).
    pub sid: String,
    /// When it was accepted.
    pub at: DateTime<Utc>,
}

#[derive(Debug)]
struct Inner {
    spec: Spec,
    mode: Mutex<StandInMode>,
    auth_token: Mutex<Option<String>>,
    accepted: Mutex<Vec<ReceivedSms>>,
    rejected: Mutex<Vec<(u16, String)>>,
    create_attempts: std::sync::atomic::AtomicUsize,
    stop: CancellationToken,
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

/// The running stand-in. Stop it with [`TwilioStandIn::stop`]; dropping it also shuts the server down.
#[derive(Debug)]
pub struct TwilioStandIn {
    addr: SocketAddr,
    inner: Arc<Inner>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl TwilioStandIn {
    /// Loads the OpenAPI description at `spec_path` and serves on `127.0.0.1:0`.
    pub async fn start(spec_path: &Path) -> std::io::Result<TwilioStandIn> {
        let spec = Spec::load(spec_path, &["CreateMessage", "FetchAccount", "ListMessage"])?;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let inner = Arc::new(Inner {
            spec,
            mode: Mutex::new(StandInMode::Ok),
            auth_token: Mutex::new(None),
            accepted: Mutex::new(Vec::new()),
            rejected: Mutex::new(Vec::new()),
            create_attempts: std::sync::atomic::AtomicUsize::new(0),
            stop: CancellationToken::new(),
        });
        let app = Router::new().fallback(handle).with_state(inner.clone());
        let stop = inner.stop.clone();
        let task = tokio::spawn(async move {
            let served = axum::serve(listener, app).with_graceful_shutdown(stop.cancelled_owned()).await;
            if let Err(error) = served {
                tracing::warn!(%error, "twilio stand-in stopped with an error");
            }
        });
        tracing::info!(%addr, "twilio stand-in listening");
        Ok(TwilioStandIn { addr, inner, task: Some(task) })
    }

    /// `http://127.0.0.1:<port>`: the notifier's `base_url`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Changes how later requests are answered.
    pub fn set_mode(&self, mode: StandInMode) {
        *lock(&self.inner.mode) = mode;
    }

    /// Requires this basic-auth password (the auth token) from now on; `None` (the default) accepts any
    /// non-empty password.
    pub fn set_auth_token(&self, token: Option<&str>) {
        *lock(&self.inner.auth_token) = token.map(str::to_owned);
    }

    /// The messages accepted so far, oldest first.
    pub fn requests(&self) -> Vec<ReceivedSms> {
        lock(&self.inner.accepted).clone()
    }

    /// How many `CreateMessage` requests arrived so far, whatever they were answered (or not answered) with.
    pub fn create_attempts(&self) -> usize {
        self.inner.create_attempts.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Every request not answered with success so far: status and the reason given.
    pub fn rejected(&self) -> Vec<(u16, String)> {
        lock(&self.inner.rejected).clone()
    }

    /// Stops serving: hanging requests are released, open connections drained (at most 5 s).
    pub async fn stop(mut self) {
        self.inner.stop.cancel();
        if let Some(task) = self.task.take() {
            let abort = task.abort_handle();
            if tokio::time::timeout(Duration::from_secs(5), task).await.is_err() {
                abort.abort();
            }
        }
    }
}

impl Drop for TwilioStandIn {
    fn drop(&mut self) {
        self.inner.stop.cancel();
    }
}

/// A Twilio-shaped error answer, also recorded in `rejected`.
struct Refusal {
    status: StatusCode,
    code: u32,
    message: String,
}

impl Refusal {
    fn new(status: StatusCode, code: u32, message: impl Into<String>) -> Self {
        Refusal { status, code, message: message.into() }
    }

    /// Records the refusal and answers it.
    fn respond(self, inner: &Inner) -> Response {
        lock(&inner.rejected).push((self.status.as_u16(), format!("{}: {}", self.code, self.message)));
        IntoResponse::into_response(self)
    }
}

async fn handle(
    State(inner): State<Arc<Inner>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match serve(&inner, &method, &uri, &headers, &body).await {
        Ok(response) => response,
        Err(refusal) => refusal.respond(&inner),
    }
}

async fn serve(
    inner: &Inner,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<Response, Refusal> {
    let (op, params) = match inner.spec.route(method, uri.path()) {
        Route::Found(op, params) => (op, params),
        Route::MethodNotAllowed(allowed) => {
            return Err(Refusal::new(
                StatusCode::METHOD_NOT_ALLOWED,
                20004,
                format!("Method {method} not allowed on {}; the description has {}", uri.path(), allowed.join(", ")),
            ));
        }
        Route::NotFound => {
            return Err(Refusal::new(
                StatusCode::NOT_FOUND,
                20404,
                format!("The requested resource {} was not found", uri.path()),
            ));
        }
    };

    if op.id == "CreateMessage" {
        inner.create_attempts.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }
    let mode = *lock(&inner.mode);
    match mode {
        StandInMode::Fail500 => {
            return Err(Refusal::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                20500,
                "Internal Server Error (stand-in mode Fail500)",
            ));
        }
        StandInMode::RateLimit { retry_after_s } => {
            let refusal =
                Refusal::new(StatusCode::TOO_MANY_REQUESTS, 20429, "Too Many Requests (stand-in mode RateLimit)");
            let mut response = refusal.respond(inner);
            response.headers_mut().insert(RETRY_AFTER, retry_after_s.into());
            return Ok(response);
        }
        StandInMode::Hang => {
            inner.stop.cancelled().await;
            return Err(Refusal::new(StatusCode::SERVICE_UNAVAILABLE, 20503, "stand-in stopped while hanging"));
        }
        StandInMode::Ok
        | StandInMode::InvalidNumber
        | StandInMode::AcceptThenHang
        | StandInMode::AcceptSlowly { .. } => {}
    }

    let account_sid = params
        .iter()
        .find(|(name, _)| name == "AccountSid" || name == "Sid")
        .map(|(_, value)| value.clone())
        .unwrap_or_default();
    inner
        .spec
        .check_path_params(op, &params)
        .map_err(|fault| Refusal::new(StatusCode::BAD_REQUEST, 20422, format!("Invalid path: {}", fault.detail)))?;
    let auth_user = check_auth(inner, op, headers, &account_sid)?;

    if op.id == "ListMessage" {
        let query: Vec<(String, String)> = serde_urlencoded::from_str(uri.query().unwrap_or(""))
            .map_err(|e| Refusal::new(StatusCode::BAD_REQUEST, 20422, format!("Query is not form-encoded: {e}")))?;
        inner.spec.check_query(op, &query).map_err(refuse_fault)?;
        let list = list_messages(inner, op, &account_sid, uri.path(), &query).map_err(stand_in_bug)?;
        return Ok((StatusCode::OK, Json(list)).into_response());
    }

    if op.id == "FetchAccount" {
        let account = resources::account(&inner.spec, op, &account_sid).map_err(stand_in_bug)?;
        return Ok((StatusCode::from_u16(op.success.0).unwrap_or(StatusCode::OK), Json(account)).into_response());
    }

    let content_type = headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok());
    let schema = inner.spec.body_schema(op, content_type).map_err(refuse_fault)?;
    let fields: Vec<(String, String)> = serde_urlencoded::from_bytes(body)
        .map_err(|e| Refusal::new(StatusCode::BAD_REQUEST, 20422, format!("Body is not form-encoded: {e}")))?;
    if let Some(schema) = schema {
        inner.spec.check_form(schema, &fields).map_err(refuse_fault)?;
    }
    check_message_rules(&fields)?;

    let field = |name: &str| fields.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone());
    let to = field("To").unwrap_or_default();
    if mode == StandInMode::InvalidNumber {
        return Err(Refusal::new(
            StatusCode::BAD_REQUEST,
            21211,
            format!("Invalid 'To' Phone Number: {to} (stand-in mode InvalidNumber)"),
        ));
    }

    let sms = ReceivedSms {
        account_sid,
        auth_user,
        from: field("From"),
        messaging_service_sid: field("MessagingServiceSid"),
        body: field("Body").unwrap_or_default(),
        to,
        fields: fields.clone(),
        sid: resources::new_sid("SM"),
        at: Utc::now(),
    };
    let media = fields.iter().filter(|(n, _)| n == "MediaUrl").count();
    let resource = resources::message(&inner.spec, op, &sms, media).map_err(stand_in_bug)?;
    lock(&inner.accepted).push(sms);
    match mode {
        StandInMode::AcceptThenHang => {
            inner.stop.cancelled().await;
            return Err(Refusal::new(StatusCode::SERVICE_UNAVAILABLE, 20503, "stand-in stopped while hanging"));
        }
        StandInMode::AcceptSlowly { delay_ms } => tokio::time::sleep(Duration::from_millis(delay_ms)).await,
        _ => {}
    }
    Ok((StatusCode::from_u16(op.success.0).unwrap_or(StatusCode::CREATED), Json(resource)).into_response())
}

/// `ListMessage`: the accepted messages of the account, newest first, filtered by `To`, `From` and `DateSent`
/// (`DateSent>`/`DateSent<`: on or after / before), one page of `PageSize` (default 50).
fn list_messages(
    inner: &Inner,
    op: &Operation,
    account_sid: &str,
    path: &str,
    query: &[(String, String)],
) -> Result<serde_json::Value, String> {
    let get = |name: &str| query.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str());
    let time = |name: &str| get(name).and_then(|v| DateTime::parse_from_rfc3339(v).ok()).map(|t| t.with_timezone(&Utc));
    let (after, before) = (time("DateSent>"), time("DateSent<"));
    let page_size = get("PageSize").and_then(|v| v.parse::<usize>().ok()).unwrap_or(50);
    let create = inner.spec.operation("CreateMessage").ok_or("CreateMessage is not loaded")?;
    let accepted = lock(&inner.accepted).clone();
    let mut messages = Vec::new();
    for sms in accepted.iter().rev() {
        let keep = sms.account_sid == account_sid
            && get("To").is_none_or(|to| to == sms.to)
            && get("From").is_none_or(|from| Some(from) == sms.from.as_deref())
            && after.is_none_or(|t| sms.at >= t)
            && before.is_none_or(|t| sms.at < t);
        if keep && messages.len() < page_size {
            let media = sms.fields.iter().filter(|(n, _)| n == "MediaUrl").count();
            messages.push(resources::message(&inner.spec, create, sms, media)?);
        }
    }
    let names = inner.spec.property_names(&op.success.1);
    let uri = format!("{path}?PageSize={page_size}&Page=0");
    let mut page = serde_json::Map::new();
    for (key, value) in [
        ("end", json!(messages.len().saturating_sub(1))),
        ("first_page_uri", json!(uri)),
        ("next_page_uri", serde_json::Value::Null),
        ("page", json!(0)),
        ("page_size", json!(page_size)),
        ("previous_page_uri", serde_json::Value::Null),
        ("start", json!(0)),
        ("uri", json!(uri)),
        ("messages", json!(messages)),
    ] {
        if !names.iter().any(|n| n == key) {
            return Err(format!("{key} is not in the ListMessage response schema"));
        }
        page.insert(key.to_string(), value);
    }
    Ok(serde_json::Value::Object(page))
}

/// Basic auth as the description's security scheme demands: the user must be the path's account SID, the
/// password non-empty (or the configured token).
fn check_auth(inner: &Inner, op: &Operation, headers: &HeaderMap, account_sid: &str) -> Result<String, Refusal> {
    if !op.basic_auth {
        return Ok(String::new());
    }
    let unauthorized =
        |message: &str| Refusal::new(StatusCode::UNAUTHORIZED, 20003, format!("Authentication Error - {message}"));
    let header = headers.get(axum::http::header::AUTHORIZATION).and_then(|v| v.to_str().ok());
    let encoded =
        header.and_then(|h| h.strip_prefix("Basic ")).ok_or_else(|| unauthorized("No credentials provided"))?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .ok_or_else(|| unauthorized("malformed basic credentials"))?;
    let (user, password) = decoded.split_once(':').ok_or_else(|| unauthorized("malformed basic credentials"))?;
    if user != account_sid {
        return Err(unauthorized("invalid username (it must be the AccountSid of the URL)"));
    }
    let expected = lock(&inner.auth_token).clone();
    if password.is_empty() || expected.is_some_and(|token| token != password) {
        return Err(unauthorized("invalid password"));
    }
    Ok(user.to_owned())
}

/// Maps a description fault onto Twilio's error codes for the fields it names.
fn refuse_fault(fault: Fault) -> Refusal {
    let bad = StatusCode::BAD_REQUEST;
    match (fault.field.as_deref(), fault.kind) {
        (Some("To"), FaultKind::Missing) => Refusal::new(bad, 21604, "A 'To' phone number is required."),
        (Some("To"), FaultKind::Invalid) => {
            Refusal::new(bad, 21211, format!("Invalid 'To' Phone Number: {}", fault.detail))
        }
        (Some("From"), FaultKind::Invalid) => {
            Refusal::new(bad, 21212, format!("Invalid 'From' Phone Number: {}", fault.detail))
        }
        (_, FaultKind::Body) => Refusal::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, 20415, fault.detail),
        _ => Refusal::new(bad, 20422, format!("Invalid parameter: {}", fault.detail)),
    }
}

/// Twilio's documented rules that the schema cannot express: a sender (`From` or `MessagingServiceSid`; both
/// together are allowed, `From` then picks a sender of the service's pool), and content (`Body`, `MediaUrl` or
/// `ContentSid`).
fn check_message_rules(fields: &[(String, String)]) -> Result<(), Refusal> {
    let has = |name: &str| fields.iter().any(|(n, v)| n == name && !v.is_empty());
    if !has("From") && !has("MessagingServiceSid") {
        return Err(Refusal::new(
            StatusCode::BAD_REQUEST,
            21603,
            "A 'From' phone number or a 'MessagingServiceSid' is required.",
        ));
    }
    if !has("Body") && !has("MediaUrl") && !has("ContentSid") {
        return Err(Refusal::new(
            StatusCode::BAD_REQUEST,
            21619,
            "A text message Body, MediaUrl or ContentSid must be specified.",
        ));
    }
    Ok(())
}

/// The stand-in built a response its description does not allow: a bug here, answered with 500 so tests see it.
fn stand_in_bug(why: String) -> Refusal {
    Refusal::new(StatusCode::INTERNAL_SERVER_ERROR, 20500, format!("stand-in bug: {why}"))
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let mut response = (
            self.status,
            Json(json!({
                "code": self.code,
                "message": self.message,
                "more_info": format!("https://www.twilio.com/docs/errors/{}", self.code),
                "status": self.status.as_u16(),
            })),
        )
            .into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(WWW_AUTHENTICATE, "Basic realm=\"Twilio API\"".parse().expect("static"));
        }
        response
    }
}
