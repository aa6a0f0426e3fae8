//! Dashboard sessions: the login form trades an API token for an opaque session id kept in an HttpOnly,
//! SameSite=Strict cookie; only the session id's SHA-256 is held in memory, never the token.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use serde::Deserialize;

use super::{pages, DashState};
use crate::auth::{self, Access, Caller};

/// The cookie that carries the session id.
pub const COOKIE: &str = "prognos_session";

/// How long a session lasts after login.
pub const SESSION_TTL: Duration = Duration::from_secs(12 * 3600);

/// The most sessions held at once; past that, the oldest are dropped.
const MAX_SESSIONS: usize = 10_000;

/// One logged-in browser.
#[derive(Debug, Clone)]
struct Session {
    caller: Caller,
    expires: Instant,
}

/// Live sessions by the SHA-256 of their id. In memory: a restart logs everyone out, and each replica has its
/// own sessions (a load balancer needs sticky sessions, or people log in again).
#[derive(Debug, Default)]
pub struct Sessions {
    map: Mutex<HashMap<String, Session>>,
}

impl Sessions {
    /// Starts a session for `caller`; returns the session id to put in the cookie.
    pub fn create(&self, caller: Caller) -> String {
        let id = auth::new_token();
        let now = Instant::now();
        if let Ok(mut map) = self.map.lock() {
            map.retain(|_, s| s.expires > now);
            if map.len() >= MAX_SESSIONS {
                if let Some(oldest) = map.iter().min_by_key(|(_, s)| s.expires).map(|(k, _)| k.clone()) {
                    map.remove(&oldest);
                }
            }
            map.insert(auth::hash_token(&id), Session { caller, expires: now + SESSION_TTL });
        }
        id
    }

    /// The caller of a live session.
    pub fn get(&self, id: &str) -> Option<Caller> {
        let map = self.map.lock().ok()?;
        map.get(&auth::hash_token(id)).filter(|s| s.expires > Instant::now()).map(|s| s.caller.clone())
    }

    /// Ends a session; true if it existed.
    pub fn remove(&self, id: &str) -> bool {
        self.map.lock().map(|mut m| m.remove(&auth::hash_token(id)).is_some()).unwrap_or(false)
    }

    /// Number of live sessions.
    pub fn len(&self) -> usize {
        let now = Instant::now();
        self.map.lock().map(|m| m.values().filter(|s| s.expires > now).count()).unwrap_or(0)
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The session id from the request's `Cookie` headers.
pub fn session_id(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value.trim().to_string())
        .filter(|v| !v.is_empty())
}

/// A `next` target is only followed when it is a path on this site (no scheme, no `//host`).
pub fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n) if n.starts_with('/') && !n.starts_with("//") && !n.contains('\\') && !n.starts_with("/login") => {
            n.to_string()
        }
        _ => "/fleet".to_string(),
    }
}

/// Middleware for dashboard pages: a request without a live session is redirected to the login page, which
/// brings it back afterwards.
pub async fn require(State(dash): State<DashState>, mut req: Request, next: Next) -> Response {
    let caller = session_id(req.headers()).and_then(|id| dash.sessions.get(&id));
    match caller {
        Some(caller) if auth::allows(caller.role, Access::Read) => {
            req.extensions_mut().insert(caller);
            next.run(req).await
        }
        _ => {
            let target = req.uri().path_and_query().map(|p| p.as_str()).unwrap_or("/fleet");
            let location = format!("/login?next={}", percent_encode(target));
            Redirect::to(&location).into_response()
        }
    }
}

/// Percent-encodes everything but unreserved characters and `/`.
pub fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b'/') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `GET /login` parameters.
#[derive(Debug, Deserialize)]
pub struct LoginQuery {
    /// Where to go after logging in.
    pub next: Option<String>,
}

/// The login form's fields.
#[derive(Debug, Deserialize)]
pub struct LoginForm {
    /// An API token (any role: every role may read).
    pub token: String,
    /// Where to go after logging in.
    pub next: Option<String>,
}

/// `GET /login`: the form.
pub async fn login_page(axum::extract::Query(q): axum::extract::Query<LoginQuery>) -> Response {
    pages::login(&safe_next(q.next.as_deref()), None).into_response()
}

/// `POST /login`: checks the token; on success starts a session and redirects to `next`, otherwise shows the
/// form again with a message (the token is never echoed back or logged).
pub async fn login(State(dash): State<DashState>, Form(form): Form<LoginForm>) -> Response {
    let next = safe_next(form.next.as_deref());
    let token = form.token.trim();
    let caller = if token.is_empty() { None } else { dash.app.tokens.check(token) };
    let Some(caller) = caller.filter(|c| auth::allows(c.role, Access::Read)) else {
        tracing::info!("dashboard login refused: unknown token");
        return (StatusCode::UNAUTHORIZED, pages::login(&next, Some("That token is not valid."))).into_response();
    };
    tracing::info!(token_name = %caller.name, role = caller.role.as_str(), "dashboard login");
    let id = dash.sessions.create(caller);
    let cookie = format!("{COOKIE}={id}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}", SESSION_TTL.as_secs());
    let mut resp = Redirect::to(&next).into_response();
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        resp.headers_mut().insert(header::SET_COOKIE, v);
    }
    resp
}

/// `POST /logout`: ends the session, clears the cookie and goes back to the login page.
pub async fn logout(State(dash): State<DashState>, headers: HeaderMap) -> Response {
    if let Some(id) = session_id(&headers) {
        dash.sessions.remove(&id);
    }
    let mut resp = Redirect::to("/login").into_response();
    resp.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static("prognos_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"),
    );
    resp
}

#[cfg(test)]
mod tests {
    use super::*;
    use prognos_core::Role;

    #[test]
    fn sessions_are_opaque_and_expire_on_removal() {
        let sessions = Sessions::default();
        let id = sessions.create(Caller { name: "v".into(), role: Role::Viewer });
        assert!(id.starts_with("prg_") && id.len() > 40);
        assert_eq!(sessions.get(&id).unwrap().name, "v");
        assert!(sessions.get("prg_other").is_none());
        assert!(sessions.map.lock().unwrap().keys().all(|k| k != &id), "only the id's hash is kept");
        assert!(sessions.remove(&id));
        assert!(sessions.get(&id).is_none());
        assert!(sessions.is_empty());
    }

    #[test]
    fn cookie_and_next_parsing() {
        let mut h = HeaderMap::new();
        h.insert(header::COOKIE, HeaderValue::from_static("a=1; prognos_session=abc; b=2"));
        assert_eq!(session_id(&h).as_deref(), Some("abc"));
        assert_eq!(session_id(&HeaderMap::new()), None);
        assert_eq!(safe_next(Some("/assets/W03")), "/assets/W03");
        assert_eq!(safe_next(Some("//evil.example")), "/fleet");
        assert_eq!(safe_next(Some("https://evil.example")), "/fleet");
        assert_eq!(safe_next(None), "/fleet");
        assert_eq!(percent_encode("/assets/W 3?x=1&y"), "/assets/W%203%3Fx%3D1%26y");
    }
}
