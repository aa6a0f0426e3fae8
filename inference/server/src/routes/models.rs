//! `GET /v1/models`: what is served, with each card's contract and provenance, and what was refused.

use axum::extract::State;
use axum::Json;
use serde_json::{json, Value};

use crate::state::AppState;

/// Lists served model versions and refused folders.
pub async fn list(State(state): State<AppState>) -> Json<Value> {
    let models: Vec<Value> = state
        .models
        .list()
        .into_iter()
        .map(|v| {
            let c = &v.card;
            json!({
                "name": c.name,
                "version": c.version,
                "active": v.active,
                "description": c.description,
                "features": c.input.features,
                "classes": c.output.classes,
                "healthy_class": c.output.healthy_class,
                "threshold": c.alert.threshold,
                "provenance": c.provenance,
            })
        })
        .collect();
    let refused = state.refused.read().map(|r| r.clone()).unwrap_or_default();
    Json(json!({"models": models, "refused": refused}))
}
