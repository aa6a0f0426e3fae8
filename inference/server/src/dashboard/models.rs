//! The model page (`/models/{name}`, the link drift alerts carry) and the fleet's "Model inputs" table: for the
//! active version of each served model, the population stability index of every feature against the training
//! distribution in its card, worst first.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Extension;
use maud::{html, Markup};

use super::{pages, DashState};
use crate::auth::Caller;
use crate::drift::{model_drift, ModelDrift};

/// `GET /models/{name}`.
pub async fn page(
    State(dash): State<DashState>,
    Extension(caller): Extension<Caller>,
    Path(name): Path<String>,
) -> Response {
    let Some(drift) = model_drift(&dash.app, &name) else {
        return pages::error_page(StatusCode::NOT_FOUND, &caller, "Unknown model", "No model of that name is served.");
    };
    pages::page(&format!("Model {name}"), &caller, body(&drift))
}

fn status_class(status: &str) -> &'static str {
    match status {
        "drifting" => "bad",
        "ok" => "ok",
        _ => "muted",
    }
}

/// The link to a model's page.
pub fn model_href(name: &str) -> String {
    format!("/models/{}", super::session::percent_encode(name).replace('/', "%2F"))
}

fn body(d: &ModelDrift) -> Markup {
    let mut features = d.report.as_ref().map(|r| r.features.clone()).unwrap_or_default();
    features.sort_by(|a, b| b.psi.total_cmp(&a.psi));
    html! {
        h1 { "Model " (d.model) " " span.muted { (d.version) } }
        h2 { "Input drift" }
        p #drift-status {
            "Status: " span class=(status_class(d.status)) { (d.status) }
            @if let (Some(psi), Some(f)) = (d.max_psi, &d.worst_feature) {
                " · highest PSI " (format!("{psi:.3}")) " on " (f)
            }
            " · threshold " (format!("{:.2}", d.threshold))
        }
        @match &d.report {
            None => p.muted { "The model card carries no training distribution, so drift is unknown." },
            Some(r) => {
                p.muted {
                    (r.rows) " of the last " (r.window_rows) " scored rows (" (r.rows_total) " since this version \
                    started serving); values from " (r.min_rows) " rows on. PSI under 0.1: stable; 0.1 to 0.25: a \
                    moderate shift; above " (format!("{:.2}", d.threshold)) ": drifting."
                }
                @if !features.is_empty() {
                    table #drift {
                        tr { th { "feature" } th { "PSI" } }
                        @for f in &features {
                            tr data-feature=(f.feature) {
                                td { (f.feature) }
                                td.num { span class=(if f.psi > d.threshold { "bad" } else { "" }) { (format!("{:.3}", f.psi)) } }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The fleet page's table: one row per served model.
pub fn fleet_table(dash: &DashState) -> Markup {
    let drifts: Vec<ModelDrift> = dash.app.models.names().iter().filter_map(|n| model_drift(&dash.app, n)).collect();
    html! {
        @if drifts.is_empty() { p.muted { "No model is served." } } @else {
            table #model-inputs {
                tr { th { "model" } th { "version" } th { "inputs" } th { "highest PSI" } th { "feature" } }
                @for d in &drifts {
                    tr data-model=(d.model) {
                        td { a href=(model_href(&d.model)) { (d.model) } }
                        td { (d.version) }
                        td { span class=(status_class(d.status)) { (d.status) } }
                        td.num { @if let Some(p) = d.max_psi { (format!("{p:.3}")) } }
                        td { @if let Some(f) = &d.worst_feature { (f) } }
                    }
                }
            }
        }
    }
}
