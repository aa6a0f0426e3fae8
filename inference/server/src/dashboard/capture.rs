//! The capture page: a wheel scan's score with the features that pulled it down, its height map and intensity as
//! pictures, its stored feature values, and the PNG endpoints behind the pictures.

use axum::extract::{Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use maud::html;

use super::pages::{self, asset_href, when};
use super::scan::{self, Plane, ScanError};
use super::DashState;
use crate::auth::Caller;

/// Largest picture drawn, in pixels (columns across, profiles down).
const MAX_W: usize = 1024;
const MAX_H: usize = 480;

/// `GET /captures/{id}`.
pub async fn page(
    State(dash): State<DashState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<i64>,
) -> Response {
    let store = &dash.app.store;
    let capture = match store.capture(id).await {
        Ok(Some(c)) => c,
        Ok(None) => {
            return pages::error_page(StatusCode::NOT_FOUND, &caller, "No such capture", &format!("capture {id}"))
        }
        Err(e) => return internal(&caller, e),
    };
    let features = match store.features_for_capture(id).await {
        Ok(f) => f,
        Err(e) => return internal(&caller, e),
    };
    let predictions = match store.predictions_for_capture(id).await {
        Ok(p) => p,
        Err(e) => return internal(&caller, e),
    };
    let c = &capture.capture;
    let stem_name = std::path::Path::new(&c.source).file_name().map(|n| n.to_string_lossy().into_owned());
    let files = scan::locate(&c.source, &c.camera, &dash.archive_dirs);
    let body = html! {
        h1 { "Capture " (id) " of " a href=(asset_href(&c.asset_id)) { (c.asset_id) } }
        table {
            tr { th { "captured" } td { (when(c.captured_at)) } }
            tr { th { "site / camera" } td { (c.site) " / " (c.camera) } }
            tr { th { "run count" } td { (c.run_count.map(|r| r.to_string()).unwrap_or_else(|| "unknown".into())) } }
            tr { th { "size" } td { (c.width) " points x " (c.profiles) " profiles (" (c.height_units) ")" } }
            tr { th { "mean height / intensity" } td { (format!("{:.3} / {:.1}", c.mean_height, c.mean_intensity)) } }
            tr { th { "file" } td { (stem_name.clone().unwrap_or_default()) } }
            tr { th { "content hash" } td { code { (c.content_hash) } } }
        }
        @for p in &predictions {
            h2 { "Score" }
            p #capture-score {
                "Health " b { (format!("{:.1}", p.health_score)) } " (" (p.label) ") by " (p.model) " " (p.model_version)
                ", scored " (when(p.scored_at))
            }
            h3 { "What pulled the score down" }
            div #explanation { (pages::explanation_table(p.explanation.as_deref())) }
        }
        @match files {
            Ok(_) => {
                h2 { "Height map" }
                img.scan #height src=(format!("/captures/{id}/height.png")) alt="height map";
                p.muted { "Colour runs from dark blue (low) to yellow (high) between the 2nd and 98th percentile; black is missing data." }
                h2 { "Intensity" }
                img.scan #intensity src=(format!("/captures/{id}/intensity.png")) alt="intensity";
            }
            Err(_) => {
                h2 { "Scan" }
                p.warn #scan-gone {
                    "The scan's files (" (stem_name.unwrap_or_default()) ".xml / .dat) are no longer on disk: "
                    "they were deleted after processing or moved out of the archive. The stored features are below."
                }
            }
        }
        h2 { "Features" }
        @if features.is_empty() { p.muted { "No feature rows stored for this capture." } }
        @for set in &features {
            h3 { (set.feature_set) }
            table.features {
                tr { th { "feature" } th { "value" } }
                @for (name, value) in set.names.iter().zip(&set.values) {
                    tr { td { (name) } td.num { (if value.is_nan() { "NaN".to_string() } else { format!("{value:.5}") }) } }
                }
            }
        }
    };
    pages::page(&format!("Capture {id}"), &caller, body)
}

/// `GET /captures/{id}/height.png`.
pub async fn height_png(State(dash): State<DashState>, Path(id): Path<i64>) -> Response {
    picture(dash, id, Plane::Height).await
}

/// `GET /captures/{id}/intensity.png`.
pub async fn intensity_png(State(dash): State<DashState>, Path(id): Path<i64>) -> Response {
    picture(dash, id, Plane::Intensity).await
}

async fn picture(dash: DashState, id: i64, plane: Plane) -> Response {
    let capture = match dash.app.store.capture(id).await {
        Ok(Some(c)) => c,
        Ok(None) => return (StatusCode::NOT_FOUND, "no such capture").into_response(),
        Err(e) => {
            tracing::error!(error = %e, capture = id, "dashboard: reading a capture failed");
            return (StatusCode::INTERNAL_SERVER_ERROR, "internal error; see the service log").into_response();
        }
    };
    let dirs = dash.archive_dirs.clone();
    let rendered = tokio::task::spawn_blocking(move || {
        let (xml, dat) = scan::locate(&capture.capture.source, &capture.capture.camera, &dirs)?;
        scan::render_png(&xml, &dat, plane, MAX_W, MAX_H)
    })
    .await;
    match rendered {
        Ok(Ok(bytes)) => {
            let mut resp = bytes.into_response();
            resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("image/png"));
            resp.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("private, max-age=3600"));
            resp
        }
        Ok(Err(e @ ScanError::Gone(_))) => {
            tracing::info!(capture = id, error = %e, "dashboard: scan picture asked for, files gone");
            (StatusCode::NOT_FOUND, "the capture's files are no longer on disk").into_response()
        }
        Ok(Err(e @ ScanError::NoPlane(_))) => (StatusCode::NOT_FOUND, e.to_string()).into_response(),
        Ok(Err(e)) => {
            tracing::warn!(capture = id, error = %e, "dashboard: scan picture failed");
            (StatusCode::UNPROCESSABLE_ENTITY, "the capture's files cannot be drawn; see the service log")
                .into_response()
        }
        Err(e) => {
            tracing::error!(capture = id, error = %e, "dashboard: scan picture task failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "internal error; see the service log").into_response()
        }
    }
}

/// A store fault: logged in full, shown as a generic message.
pub fn internal(caller: &Caller, e: impl std::fmt::Display) -> Response {
    tracing::error!(error = %e, "dashboard: store read failed");
    pages::error_page(StatusCode::INTERNAL_SERVER_ERROR, caller, "Something went wrong", "See the service log.")
}
