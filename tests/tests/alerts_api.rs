//! The alerts API: list alerts, notifications and silences (viewer); acknowledge and silence (operator).

use chrono::Utc;
use prognos_store::{NewAlert, Store};
use prognos_tests::{TestApp, OPERATOR_TOKEN, VIEWER_TOKEN};
use serde_json::{json, Value};

#[tokio::test]
async fn operators_acknowledge_alerts_and_create_silences_viewers_only_read() {
    let app = TestApp::spawn(&["nn-softmax"]).await;
    let store =
        Store::connect(&format!("sqlite://{}", app.dir.path().join("data/prognos.db").display())).await.unwrap();
    let mut tx = store.begin_alerts().await.unwrap();
    let alert = tx
        .insert_alert(&NewAlert {
            rule: "health_below".into(),
            asset_id: "W03".into(),
            site: "coaster-1".into(),
            pipeline: "wheel-cameras".into(),
            route: "maintenance".into(),
            opened_at: Utc::now(),
            value: Some(42.0),
            threshold: Some(70.0),
            detail: json!({}),
        })
        .await
        .unwrap()
        .expect("inserted");
    tx.commit().await.unwrap();

    let listed: Value = app.get("/v1/alerts", Some(VIEWER_TOKEN)).await.json().await.unwrap();
    assert_eq!(listed["alerts"][0]["asset"], "W03");
    assert_eq!(listed["alerts"][0]["value"], 42.0);
    let bad = app.get("/v1/alerts?state=burning", Some(VIEWER_TOKEN)).await;
    assert_eq!(bad.status(), 422);

    let path = format!("/v1/alerts/{}/ack", alert.id);
    assert_eq!(app.post(&path, Some(VIEWER_TOKEN), "").await.status(), 403, "viewers may not acknowledge");
    let acked: Value = app.post(&path, Some(OPERATOR_TOKEN), "").await.json().await.unwrap();
    assert_eq!(acked["acknowledged"], true);
    assert_eq!(acked["alert"]["acked_by"], "operator");
    let again: Value = app.post(&path, Some(OPERATOR_TOKEN), "").await.json().await.unwrap();
    assert_eq!(again["acknowledged"], false);
    assert_eq!(app.post("/v1/alerts/999999/ack", Some(OPERATOR_TOKEN), "").await.status(), 404);

    let until = (Utc::now() + chrono::Duration::hours(2)).to_rfc3339();
    let body = json!({"asset": "W07", "ends_at": until, "reason": "tread replacement"}).to_string();
    assert_eq!(app.post("/v1/silences", Some(VIEWER_TOKEN), body.clone()).await.status(), 403);
    let created = app.post("/v1/silences", Some(OPERATOR_TOKEN), body).await;
    assert_eq!(created.status(), 201);
    let no_target = json!({"ends_at": until, "reason": "x"}).to_string();
    assert_eq!(app.post("/v1/silences", Some(OPERATOR_TOKEN), no_target).await.status(), 422);
    let silences: Value = app.get("/v1/silences", Some(VIEWER_TOKEN)).await.json().await.unwrap();
    assert_eq!(silences["silences"][0]["asset"], "W07");
    assert_eq!(silences["silences"][0]["created_by"], "operator");

    let notifications = app.get("/v1/notifications?status=pending", Some(VIEWER_TOKEN)).await;
    assert_eq!(notifications.status(), 200);
    app.stop().await;
}
