//! The dashboard end to end: simulated captures of a wheel that degrades below 70 go through the wheel-camera
//! pipeline and the alert engine; then the login form, the session cookie, the fleet, asset and capture pages
//! and the scan pictures are checked over HTTP, as a browser would use them.

use std::path::{Path, PathBuf};

use prognos_tests::dashboard::{app as dashboard_app, feed, WORN};
use prognos_tests::{no_redirects, VIEWER_TOKEN};

/// The number after `attr="` in `html`.
fn attr_number(html: &str, attr: &str) -> f64 {
    let key = format!("{attr}=\"");
    let start = html.find(&key).unwrap_or_else(|| panic!("no {attr} in the page")) + key.len();
    html[start..].split('"').next().unwrap().parse().unwrap()
}

#[tokio::test]
async fn dashboard_pages_behind_the_login_show_the_degrading_wheel() {
    let dir = tempfile::tempdir().unwrap();
    let app = dashboard_app(dir.path()).await;
    feed(&app, dir.path()).await;
    let client = no_redirects();

    // Without a session every page goes to the login form, which remembers where the user was going.
    let resp = client.get(format!("{}/assets/{WORN}?range=1h", app.address)).send().await.unwrap();
    assert_eq!(resp.status(), 303);
    assert_eq!(resp.headers()["location"], "/login?next=/assets/W03%3Frange%3D1h");
    let resp = client.get(format!("{}/fleet", app.address)).bearer_auth(VIEWER_TOKEN).send().await.unwrap();
    assert_eq!(resp.status(), 303, "a bearer token is not a dashboard session");
    // A wrong token is refused without a cookie.
    let resp = app.login_form(&client, "prg_wrong", "").await;
    assert_eq!(resp.status(), 401);
    assert!(resp.headers().get("set-cookie").is_none());
    assert!(resp.text().await.unwrap().contains("That token is not valid."));
    // An open redirect is not followed.
    let resp = app.login_form(&client, VIEWER_TOKEN, "//evil.example/").await;
    assert_eq!(resp.headers()["location"], "/fleet");

    let session = app.dashboard_session().await;
    let cookie = &session.set_cookie;
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"), "{cookie}");
    assert!(!cookie.contains(VIEWER_TOKEN), "the cookie holds a session id, not the token");
    let (status, fleet) = session.page("/fleet").await;
    assert_eq!(status, 200, "{fleet}");
    let worn_at = fleet.find(&format!("data-asset=\"{WORN}\"")).expect("the worn wheel is ranked");
    let healthy_at = fleet.find("data-asset=\"W01\"").expect("the healthy wheel is ranked");
    assert!(worn_at < healthy_at, "worst health first");
    assert!(fleet.contains("id=\"open-alerts\""), "the open alert is listed");
    assert!(fleet.contains("coaster-1 / Cam_01"), "the per-day table groups by site and camera");
    assert!(fleet.contains("id=\"daily\""));

    let (status, asset) = session.page(&format!("/assets/{WORN}")).await;
    assert_eq!(status, 200, "{asset}");
    assert!(asset.contains("<svg"), "charts are inline SVG");
    assert!(attr_number(&asset, "data-lowest") < 70.0, "the chart reaches below the threshold");
    assert!(asset.contains("alert threshold 70"));
    assert!(asset.contains("class=\"alert-marker\""), "the alert is marked on the chart");
    assert!(asset.contains("Mean tread height") && asset.contains("Mean intensity"));
    assert!(asset.contains("id=\"alerts\""), "alert history");
    let capture_link = asset.split("href=\"/captures/").nth(1).expect("links to captures");
    let capture_id: i64 = capture_link.split('"').next().unwrap().parse().unwrap();

    let (status, capture) = session.page(&format!("/captures/{capture_id}")).await;
    assert_eq!(status, 200);
    assert!(capture.contains("height.png") && capture.contains("intensity.png"), "the archived pair is drawn");
    assert!(capture.contains("flat_spot_depth"), "feature values are listed");
    for plane in ["height", "intensity"] {
        let resp = session.get(&format!("/captures/{capture_id}/{plane}.png")).send().await.unwrap();
        assert_eq!(resp.status(), 200);
        assert_eq!(resp.headers()["content-type"], "image/png");
        assert!(resp.bytes().await.unwrap().starts_with(b"\x89PNG"));
    }
    // A pair that is gone is reported on the page, not as an error.
    for entry in walk(&dir.path().join("archive")) {
        std::fs::remove_file(entry).unwrap();
    }
    let (status, capture) = session.page(&format!("/captures/{capture_id}")).await;
    assert_eq!(status, 200);
    assert!(capture.contains("no longer on disk"));
    let (status, _) = session.page("/assets/NOPE").await;
    assert_eq!(status, 404);

    // Logging out ends the session on the server, not just in the browser.
    let resp = client.post(format!("{}/logout", app.address)).header("cookie", &session.cookie).send().await.unwrap();
    assert_eq!(resp.status(), 303);
    let (status, _) = session.page("/fleet").await;
    assert_eq!(status, 303);
    app.stop().await;
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}
