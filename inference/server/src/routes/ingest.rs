//! `POST /v1/ingest/{pipeline}`: a batch of inverter readings as JSON (`application/json`: one reading, an
//! array, or `{"readings": [...]}`) or CSV (`text/csv`, with a header), keyed by the site's column names. The
//! answer counts what was accepted, duplicate and rejected (by reason, with rows), and what was scored.
//! Allowed for the `ingest`, `operator` and `admin` roles.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap};
use axum::Json;

use crate::api_error::ApiError;
use crate::ingest::inverters::{IngestError, IngestReport};
use crate::state::AppState;

/// Ingests one batch through the named pipeline.
pub async fn ingest(
    State(state): State<AppState>,
    Path(pipeline): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<IngestReport>, ApiError> {
    let p = state
        .inverters
        .read()
        .map_err(|_| ApiError::Internal("inverter registry poisoned".into()))?
        .get(&pipeline)
        .cloned()
        .ok_or_else(|| ApiError::NotFound(format!("no inverter pipeline named {pipeline:?}")))?;
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("application/json");
    let mime = content_type.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    let csv = match mime.as_str() {
        "application/json" | "" => false,
        "text/csv" | "application/csv" => true,
        other => {
            return Err(ApiError::Invalid {
                code: "unsupported_media_type",
                message: format!("Content-Type {other:?}: send application/json or text/csv"),
            })
        }
    };
    // The batch is stored on its own task: a client that hangs up mid-request drops this handler, and that
    // must not cut a store transaction short (sqlx does not promise a clean connection after a cancelled
    // one). The batch is then stored whole, and a retry by the client counts it as duplicates.
    let batch = tokio::spawn(async move {
        if csv {
            p.ingest_csv_bytes(body.to_vec()).await
        } else {
            p.ingest_json(&body).await
        }
    });
    let result = batch.await.map_err(|e| ApiError::Internal(format!("ingest task: {e}")))?;
    match result {
        Ok(report) => Ok(Json(report)),
        Err(IngestError::Format(e)) => Err(ApiError::Invalid { code: "unreadable_batch", message: e.to_string() }),
        Err(e) => Err(ApiError::Internal(e.to_string())),
    }
}
