//! The dashboard: server-rendered HTML pages (fleet, asset, capture) with SVG charts drawn in Rust, behind a
//! login form that trades an API token for a session cookie.
//!
//! Routes: `GET /` (to the fleet), `GET|POST /login`, `POST /logout`, `GET /fleet`, `GET /assets/{id}` (the link
//! alert messages carry), `GET /models/{name}` (a model's input drift), `GET /captures/{id}` and its pictures
//! `/captures/{id}/height.png`, `/captures/{id}/intensity.png`, and the CSV and Parquet exports at
//! `/exports/{file}` (as `/v1/exports/{file}`). Pages without a live session redirect to `/login?next=...`.

pub mod asset;
pub mod capture;
pub mod fleet;
pub mod models;
pub mod pages;
pub mod scan;
pub mod session;
pub mod svg;

use std::path::PathBuf;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::middleware::from_fn_with_state;
use axum::response::Redirect;
use axum::routing::{get, post};
use axum::Router;
use prognos_core::{AfterProcessing, PipelineFile};

use crate::routes::exports::ExportQuery;
use crate::state::AppState;

/// What dashboard handlers share: the app state, the sessions, and what the pipeline files say about where
/// captures are archived and how often sources report.
#[derive(Clone)]
pub struct DashState {
    /// The application state (store, models, tokens, settings).
    pub app: AppState,
    /// Live login sessions.
    pub sessions: Arc<session::Sessions>,
    /// Archive folders of the wheel-camera pipelines (`<dir>/<camera>/<stem>.{xml,dat}`).
    pub archive_dirs: Arc<Vec<PathBuf>>,
    /// Camera name -> the pipeline's `expected_interval_s` (only those that declare one).
    pub expected_intervals: Arc<Vec<(String, u64)>>,
}

impl DashState {
    /// Builds the state, reading the pipeline folder for archive folders and expected intervals. A pipeline
    /// folder that cannot be read leaves both empty (the service refuses such files at start-up anyway).
    pub fn new(app: AppState) -> Self {
        let mut archive_dirs = Vec::new();
        let mut expected = Vec::new();
        if let Ok(files) = PipelineFile::load_dir(&app.settings.pipelines.dir) {
            for (_, file) in files {
                let Some(cams) = &file.cameras else { continue };
                if cams.after == AfterProcessing::Archive {
                    archive_dirs.push(
                        cams.archive_dir
                            .clone()
                            .unwrap_or_else(|| app.settings.data_dir.join("archive").join(&file.pipeline.name)),
                    );
                }
                if cams.expected_interval_s > 0 {
                    expected.extend(cams.cameras.iter().map(|c| (c.clone(), cams.expected_interval_s)));
                }
            }
        }
        Self {
            app,
            sessions: Arc::new(session::Sessions::default()),
            archive_dirs: Arc::new(archive_dirs),
            expected_intervals: Arc::new(expected),
        }
    }
}

/// The dashboard's routes, ready to merge into the API router.
pub fn router(state: AppState) -> Router<AppState> {
    let dash = DashState::new(state);
    let pages = Router::new()
        .route("/fleet", get(fleet::page))
        .route("/assets/{id}", get(asset::page))
        .route("/models/{name}", get(models::page))
        .route("/captures/{id}", get(capture::page))
        .route("/captures/{id}/height.png", get(capture::height_png))
        .route("/captures/{id}/intensity.png", get(capture::intensity_png))
        .route(
            "/exports/{file}",
            get(|State(d): State<DashState>, file: Path<String>, query: Query<ExportQuery>| {
                crate::routes::exports::export(State(d.app), file, query)
            }),
        )
        .route_layer(from_fn_with_state(dash.clone(), session::require));
    Router::new()
        .route("/", get(|| async { Redirect::to("/fleet") }))
        .route("/login", get(session::login_page).post(session::login))
        .route("/logout", post(session::logout))
        .merge(pages)
        .with_state(dash)
}
