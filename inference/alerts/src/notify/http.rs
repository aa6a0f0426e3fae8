//! HTTP plumbing shared by the Twilio and webhook notifiers: the client, `Retry-After`, and the mapping of
//! transport errors and status codes onto [`SendError`].

use std::error::Error as _;
use std::time::{Duration, SystemTime};

use reqwest::header::{HeaderMap, RETRY_AFTER};
use reqwest::StatusCode;

use super::SendError;

/// A client that gives up after `timeout` (connect included) and never follows redirects (a redirected POST
/// silently turns into a GET).
pub(super) fn client(timeout: Duration) -> Result<reqwest::Client, String> {
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("prognos-alerts/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| format!("cannot build the HTTP client: {e}"))
}

/// Checks that `url` is an absolute http(s) URL.
pub(super) fn parse_base_url(url: &str, what: &str) -> Result<reqwest::Url, String> {
    let parsed = reqwest::Url::parse(url).map_err(|e| format!("{what} {url:?} is not a valid URL: {e}"))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(format!("{what} {url:?} must be an http or https URL"));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(format!("{what} must not carry credentials in the URL"));
    }
    Ok(parsed)
}

/// A request that got no HTTP response (timeout, refused connection, reset, TLS failure): always transient.
/// The URL is left out of the reason.
pub(super) fn transport_error(error: reqwest::Error, timeout: Duration) -> SendError {
    let error = error.without_url();
    let reason = if error.is_timeout() {
        format!("no response within {} ms", timeout.as_millis())
    } else if error.is_connect() {
        format!("cannot connect: {}", source_chain(&error))
    } else {
        format!("request failed: {}", source_chain(&error))
    };
    SendError::transient(reason)
}

/// `error` followed by its sources, so the root cause (e.g. "Connection refused") is visible.
fn source_chain(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(inner) = source {
        let part = inner.to_string();
        if !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        source = inner.source();
    }
    text
}

/// How a status code is handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum StatusClass {
    /// 2xx: delivered.
    Success,
    /// 408, 429 and 5xx: try again later.
    Transient,
    /// Any other status (other 4xx, unexpected 1xx/3xx): the same request will fail again.
    Permanent,
}

pub(super) fn classify_status(status: StatusCode) -> StatusClass {
    if status.is_success() {
        StatusClass::Success
    } else if status == StatusCode::TOO_MANY_REQUESTS
        || status == StatusCode::REQUEST_TIMEOUT
        || status.is_server_error()
    {
        StatusClass::Transient
    } else {
        StatusClass::Permanent
    }
}

/// The `Retry-After` delay: either delay-seconds or an HTTP date (a date in the past means "now").
pub(super) fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    parse_retry_after(value, SystemTime::now())
}

pub(super) fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// At most `max` characters of a response body, for error reasons.
pub(super) fn snippet(body: &[u8], max: usize) -> String {
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    match text.char_indices().nth(max) {
        Some((cut, _)) => format!("{}...", &text[..cut]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_accepts_seconds_and_http_dates() {
        let now = httpdate::parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT").unwrap();
        assert_eq!(parse_retry_after("120", now), Some(Duration::from_secs(120)));
        assert_eq!(parse_retry_after("Sun, 06 Nov 1994 08:50:07 GMT", now), Some(Duration::from_secs(30)));
        assert_eq!(parse_retry_after("Sun, 06 Nov 1994 08:00:00 GMT", now), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-5", now), None);
    }

    #[test]
    fn status_classes() {
        assert_eq!(classify_status(StatusCode::CREATED), StatusClass::Success);
        assert_eq!(classify_status(StatusCode::TOO_MANY_REQUESTS), StatusClass::Transient);
        assert_eq!(classify_status(StatusCode::SERVICE_UNAVAILABLE), StatusClass::Transient);
        assert_eq!(classify_status(StatusCode::REQUEST_TIMEOUT), StatusClass::Transient);
        assert_eq!(classify_status(StatusCode::BAD_REQUEST), StatusClass::Permanent);
        assert_eq!(classify_status(StatusCode::UNAUTHORIZED), StatusClass::Permanent);
        assert_eq!(classify_status(StatusCode::MOVED_PERMANENTLY), StatusClass::Permanent);
    }

    #[test]
    fn snippets_are_cut_on_char_boundaries() {
        assert_eq!(snippet("  äöü  ".as_bytes(), 10), "äöü");
        assert_eq!(snippet("äöüß".as_bytes(), 2), "äö...");
    }
}
