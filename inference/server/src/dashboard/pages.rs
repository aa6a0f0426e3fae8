//! The page frame every dashboard page shares (header, navigation, style), the login page, and small
//! formatting helpers. Templates are `maud` macros, which escape every interpolated value.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use chrono::{DateTime, Utc};
use maud::{html, Markup, PreEscaped, DOCTYPE};

use crate::auth::Caller;

const CSS: &str = r#"
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;color:#222;background:#f6f7f9}
header{background:#1f2a37;color:#fff;padding:10px 24px;display:flex;align-items:center;gap:24px}
header a{color:#cfe3ff;text-decoration:none}header .brand{font-weight:700;color:#fff;font-size:18px}
header .who{margin-left:auto;font-size:13px;color:#c9d1da}header form{display:inline;margin:0}
header button{background:none;border:1px solid #7c8a99;color:#fff;border-radius:4px;padding:3px 10px;cursor:pointer}
main{padding:16px 24px;max-width:1280px}
h1{font-size:22px;margin:6px 0 14px}h2{font-size:16px;margin:22px 0 8px}
table{border-collapse:collapse;background:#fff;font-size:13px;min-width:420px}
th,td{border-bottom:1px solid #e3e6ea;padding:5px 10px;text-align:left;vertical-align:top}
th{background:#eef1f4;font-weight:600}td.num{text-align:right;font-variant-numeric:tabular-nums}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(560px,1fr));gap:16px}
.card{background:#fff;border:1px solid #e3e6ea;border-radius:6px;padding:10px 14px}
.bad{color:#b42318;font-weight:600}.warn{color:#b54708}.ok{color:#027a48}.muted{color:#667085}
.pill{display:inline-block;border-radius:10px;padding:1px 8px;font-size:12px;background:#eef1f4}
.pill.firing{background:#fee4e2;color:#b42318}.pill.pending{background:#fef0c7;color:#b54708}
.pill.resolved{background:#d1fadf;color:#027a48}
.bar{display:inline-block;height:10px;background:#1f77b4;border-radius:2px;vertical-align:middle}
.bar.low{background:#d62728}
.login{max-width:380px;margin:80px auto;background:#fff;border:1px solid #e3e6ea;border-radius:8px;padding:24px}
.login input[type=password]{width:100%;box-sizing:border-box;padding:8px;font-size:14px;margin:8px 0 14px}
.login button{padding:8px 18px;font-size:14px}.error{color:#b42318;margin:8px 0}
img.scan{max-width:100%;border:1px solid #ccc;image-rendering:pixelated}
nav.range a{margin-right:10px}nav.range a.on{font-weight:700;text-decoration:none;color:#222}
"#;

/// A full dashboard page for a logged-in caller.
pub fn page(title: &str, caller: &Caller, body: Markup) -> Response {
    let markup = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · Prognos" }
                style { (PreEscaped(CSS)) }
            }
            body {
                header {
                    a.brand href="/fleet" { "Prognos" }
                    a href="/fleet" { "Fleet" }
                    span.who {
                        "signed in as " (caller.name) " (" (caller.role.as_str()) ") "
                        form method="post" action="/logout" { button type="submit" { "Log out" } }
                    }
                }
                main { (body) }
            }
        }
    };
    respond(StatusCode::OK, markup)
}

/// The login form; `next` is where a successful login goes, `error` a message to show.
pub fn login(next: &str, error: Option<&str>) -> Response {
    let markup = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                title { "Log in · Prognos" }
                style { (PreEscaped(CSS)) }
            }
            body {
                form.login method="post" action="/login" {
                    h1 { "Prognos dashboard" }
                    p.muted { "Paste an API token (any role). It is checked once; the browser keeps only a session cookie." }
                    @if let Some(e) = error { p.error role="alert" { (e) } }
                    label for="token" { "API token" }
                    input #token type="password" name="token" autocomplete="off" required autofocus;
                    input type="hidden" name="next" value=(next);
                    button type="submit" { "Log in" }
                }
            }
        }
    };
    respond(StatusCode::OK, markup)
}

/// An error page (e.g. an unknown asset) inside the frame.
pub fn error_page(status: StatusCode, caller: &Caller, title: &str, message: &str) -> Response {
    let mut resp =
        page(title, caller, html! { h1 { (title) } p { (message) } p { a href="/fleet" { "Back to the fleet" } } });
    *resp.status_mut() = status;
    resp
}

fn respond(status: StatusCode, markup: Markup) -> Response {
    let mut resp = (status, Html(markup.into_string())).into_response();
    let h = resp.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; form-action 'self'; \
             frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    resp
}

/// A time as `2026-11-22 10:00:03 UTC`.
pub fn when(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

/// How long ago `t` was, in the largest sensible unit (`3 min ago`, `2 h ago`, `5 d ago`).
pub fn ago(t: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let s = (now - t).num_seconds();
    if s < 0 {
        return "in the future".into();
    }
    match s {
        0..=89 => format!("{s} s ago"),
        90..=5399 => format!("{} min ago", (s + 30) / 60),
        5400..=172_799 => format!("{} h ago", (s + 1800) / 3600),
        _ => format!("{} d ago", (s + 43_200) / 86_400),
    }
}

/// A health score cell: the number and a bar, red below `threshold`.
pub fn score_cell(score: f64, threshold: f64) -> Markup {
    let width = (score.clamp(0.0, 100.0) * 0.8).round();
    html! {
        td.num { span class=(if score < threshold { "bad" } else { "" }) { (format!("{score:.1}")) } }
        td { span.bar.low[score < threshold] style=(format!("width:{width}px")) {} }
    }
}

/// The features that pulled a score down (a stored prediction's explanation), as a table.
pub fn explanation_table(explanation: Option<&[prognos_store::Contribution]>) -> Markup {
    let num = |v: f64| if v.is_nan() { "missing".to_string() } else { format!("{v:.4}") };
    html! {
        @match explanation {
            None => p.muted { "Not explained (the model's card has no training distribution, or explanations are off)." },
            Some([]) => p.muted { "No feature pulled this score down noticeably." },
            Some(list) => {
                table.explanation {
                    tr { th { "feature" } th { "value" } th { "training median" } th { "health points" } }
                    @for c in list {
                        tr data-feature=(c.feature) {
                            td { (c.feature) }
                            td.num { (num(c.value)) }
                            td.num { (num(c.median)) }
                            td.num.bad { (format!("{:+.1}", c.contribution)) }
                        }
                    }
                }
                p.muted {
                    "Each feature was set to its median over the healthy training captures in turn and the capture \
                     scored again; the points are the health score as scored minus the score with that feature at \
                     its median."
                }
            }
        }
    }
}

/// The features of an explanation by name, for a table cell.
pub fn explanation_names(explanation: Option<&[prognos_store::Contribution]>) -> String {
    explanation.map(|list| list.iter().map(|c| c.feature.as_str()).collect::<Vec<_>>().join(", ")).unwrap_or_default()
}

/// The link to an asset's page.
pub fn asset_href(id: &str) -> String {
    format!("/assets/{}", super::session::percent_encode(id).replace('/', "%2F"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use prognos_core::Role;

    #[test]
    fn pages_escape_what_they_show() {
        let caller = Caller { name: "<script>alert(1)</script>".into(), role: Role::Viewer };
        let resp = page("t", &caller, html! { p { ("a & b") } });
        assert_eq!(resp.status(), StatusCode::OK);
        assert!(resp.headers().get(header::CONTENT_SECURITY_POLICY).is_some());
        let login = login("/assets/\"><x", Some("bad"));
        assert_eq!(login.status(), StatusCode::OK);
    }

    #[tokio::test]
    async fn escaped_body() {
        let caller = Caller { name: "<b>eve</b>".into(), role: Role::Viewer };
        let resp = page("t", &caller, html! { p { ("a & b") } });
        let body = axum::body::to_bytes(resp.into_body(), usize::MAX).await.unwrap();
        let text = String::from_utf8(body.to_vec()).unwrap();
        assert!(text.contains("&lt;b&gt;eve&lt;/b&gt;"));
        assert!(text.contains("a &amp; b"));
        assert!(!text.contains("<b>eve"));
        let resp = login("/x\"><script>", None);
        let body = axum::body::to_bytes(resp.into_body(), usize::MAX).await.unwrap();
        let text = String::from_utf8(body.to_vec()).unwrap();
        assert!(text.contains("value=\"/x&quot;&gt;&lt;script&gt;\""));
    }

    #[test]
    fn relative_times() {
        let now = Utc.with_ymd_and_hms(2026, 11, 22, 12, 0, 0).unwrap();
        assert_eq!(ago(now - chrono::Duration::seconds(30), now), "30 s ago");
        assert_eq!(ago(now - chrono::Duration::minutes(10), now), "10 min ago");
        assert_eq!(ago(now - chrono::Duration::hours(5), now), "5 h ago");
        assert_eq!(ago(now - chrono::Duration::days(3), now), "3 d ago");
        assert_eq!(asset_href("W 3/x"), "/assets/W%203%2Fx");
    }
}
