//! The HTTP API end to end: real models exported by the Python toolchain, served by the real application on
//! port 0, called over loopback.

use prognos_tests::{fixtures, TestApp, ADMIN_TOKEN, VIEWER_TOKEN};
use serde_json::{json, Value};

fn expected(variant: &str) -> Value {
    serde_json::from_str(&std::fs::read_to_string(fixtures().join(variant).join("expected.json")).unwrap()).unwrap()
}

async fn json_of(resp: reqwest::Response) -> (u16, Value) {
    let status = resp.status().as_u16();
    let body = resp.text().await.unwrap();
    (status, serde_json::from_str(&body).unwrap_or_else(|_| panic!("not JSON: {body}")))
}

#[tokio::test]
async fn scores_rows_by_name_and_by_order_like_onnxruntime() {
    let app = TestApp::spawn(&["lgbm-binary", "skl-multiclass-zipmap-strings"]).await;
    for variant in ["lgbm-binary", "skl-multiclass-zipmap-strings"] {
        let exp = expected(variant);
        let inputs = exp["inputs"].as_array().unwrap()[..8].to_vec();
        let named: Vec<Value> = inputs
            .iter()
            .map(|row| {
                let obj: serde_json::Map<String, Value> =
                    row.as_array().unwrap().iter().enumerate().map(|(i, v)| (format!("f{i}"), v.clone())).collect();
                Value::Object(obj)
            })
            .collect();
        for rows in [Value::Array(inputs.clone()), Value::Array(named)] {
            let body = json!({ "rows": rows }).to_string();
            let (status, v) = json_of(app.post(&format!("/v1/score/{variant}"), Some(VIEWER_TOKEN), body).await).await;
            assert_eq!(status, 200, "{v}");
            assert_eq!(v["model"], variant);
            assert_eq!(v["version"], "1.0.0");
            assert_eq!(v["threshold"], 70.0);
            let preds = v["predictions"].as_array().unwrap();
            assert_eq!(preds.len(), 8);
            for (i, p) in preds.iter().enumerate() {
                let want = exp["health"][i].as_f64().unwrap();
                let got = p["health_score"].as_f64().unwrap();
                assert!((got - want).abs() < 1e-3, "{variant} row {i}: {got} vs {want}");
                assert_eq!(p["below_threshold"], got < 70.0);
                let probs = p["probabilities"].as_object().unwrap();
                let total: f64 = probs.values().map(|x| x.as_f64().unwrap()).sum();
                assert!((total - 1.0).abs() < 1e-4);
                let best = probs.iter().max_by(|a, b| a.1.as_f64().partial_cmp(&b.1.as_f64()).unwrap()).unwrap();
                assert_eq!(p["label"], best.0.as_str());
            }
        }
    }
    app.stop().await;
}

#[tokio::test]
async fn every_malformed_request_gets_a_4xx_naming_the_problem() {
    let app = TestApp::spawn_with(&["skl-gb-nozipmap"], |s| {
        s.server.body_limit_bytes = 4096;
        s.server.max_rows_per_request = 10;
    })
    .await;
    let path = "/v1/score/skl-gb-nozipmap";
    let row = "[0.1, 0.2, 0.3, 0.4, 0.5, 0.6]";
    let cases: Vec<(String, u16, &str, &str)> = vec![
        ("{\"rows\": [".into(), 400, "malformed_json", "not valid JSON"),
        ("[1, 2]".into(), 400, "malformed_json", "rows"),
        (r#"{"rows": [{"f0": 1, "f1": 2, "f2": 3, "f3": 4, "f4": 5}]}"#.into(), 422, "missing_feature", "\"f5\""),
        (
            r#"{"rows": [{"f0": 1, "f1": 2, "f2": 3, "f3": 4, "f4": 5, "f5": 6, "f9": 1}]}"#.into(),
            422,
            "unknown_feature",
            "f9",
        ),
        ("{\"rows\": [[0.1, 0.2, 0.3]]}".into(), 422, "wrong_feature_count", "takes 6 features"),
        ("{\"rows\": [[0.1, 0.2, 0.3, 0.4, 0.5, NaN]]}".into(), 422, "non_finite_value", "NaN"),
        ("{\"rows\": [[0.1, 0.2, 0.3, 0.4, 0.5, null]]}".into(), 422, "invalid_value", "\"f5\""),
        ("{\"rows\": [[0.1, 0.2, 0.3, 0.4, 0.5, 1e300]]}".into(), 422, "non_finite_value", "f5"),
        ("{\"rows\": []}".into(), 422, "empty_batch", "at least one"),
        (format!("{{\"rows\": [{}]}}", [row; 11].join(",")), 422, "too_many_rows", "at most 10"),
        (format!("{{\"rows\": [{}]}}", [row; 200].join(",")), 413, "payload_too_large", "body_limit_bytes"),
    ];
    for (body, status, code, needle) in cases {
        let (got, v) = json_of(app.post(path, Some(VIEWER_TOKEN), body.clone()).await).await;
        assert_eq!(got, status, "{body:.60}: {v}");
        assert_eq!(v["error"]["code"], code, "{body:.60}: {v}");
        let message = v["error"]["message"].as_str().unwrap();
        assert!(message.contains(needle), "{body:.60}: {message}");
    }
    let (status, v) =
        json_of(app.post("/v1/score/nope", Some(VIEWER_TOKEN), format!("{{\"rows\": [{row}]}}")).await).await;
    assert_eq!((status, v["error"]["code"].as_str()), (404, Some("not_found")));
    let (status, _) = json_of(
        app.post("/v1/score/skl-gb-nozipmap@9.9.9", Some(VIEWER_TOKEN), format!("{{\"rows\": [{row}]}}")).await,
    )
    .await;
    assert_eq!(status, 404);
    let (status, _) = json_of(
        app.post("/v1/score/skl-gb-nozipmap@1.0.0", Some(VIEWER_TOKEN), format!("{{\"rows\": [{row}]}}")).await,
    )
    .await;
    assert_eq!(status, 200);
    app.stop().await;
}

#[tokio::test]
async fn every_endpoint_but_probes_and_metrics_needs_a_valid_token() {
    let app = TestApp::spawn(&["nn-softmax"]).await;
    let body = "{\"rows\": [[0, 0, 0, 0, 0, 0]]}";
    let resp = app.post("/v1/score/nn-softmax", None, body).await;
    assert_eq!(resp.status(), 401);
    assert_eq!(resp.headers()["www-authenticate"], "Bearer");
    assert_eq!(app.post("/v1/score/nn-softmax", Some("prg_forged"), body).await.status(), 401);
    assert_eq!(app.get("/v1/models", None).await.status(), 401);
    assert_eq!(app.post("/v1/score/nn-softmax", Some(ADMIN_TOKEN), body).await.status(), 200);
    assert_eq!(app.get("/v1/models", Some(VIEWER_TOKEN)).await.status(), 200);
    for open in ["/healthz", "/readyz", "/metrics"] {
        assert_eq!(app.get(open, None).await.status(), 200, "{open}");
    }
    app.stop().await;
}

/// Reads one HTTP/1.1 response (headers and a `content-length` body) from `stream`: its status and body.
fn read_response(stream: &mut std::net::TcpStream) -> std::io::Result<(u16, String)> {
    use std::io::Read;
    let mut got = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        if let Some(end) = got.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&got[..end]).to_lowercase();
            let length: usize =
                head.lines().find_map(|l| l.strip_prefix("content-length:")).map_or(0, |v| v.trim().parse().unwrap());
            if got.len() >= end + 4 + length {
                let status = head[9..12].parse().unwrap();
                return Ok((status, String::from_utf8_lossy(&got[end + 4..end + 4 + length]).into_owned()));
            }
        }
        match stream.read(&mut buf)? {
            0 => return Err(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "connection closed")),
            n => got.extend_from_slice(&buf[..n]),
        }
    }
}

#[tokio::test]
async fn a_refused_request_gets_its_refusal_and_keeps_its_connection_while_it_sends_its_body() {
    // A model upload with a viewer's token: the service refuses it on its headers, before the body arrives. It
    // must read that body before answering: a connection closed with unread data is reset, and the reset can
    // overtake the refusal, so that the client sees a broken connection instead of a 403 (this failed the
    // model-swap test now and then). Read to the end, the body also leaves the connection open for the next
    // request, which is what this checks, as the reset itself is a race.
    let app = TestApp::spawn(&["nn-softmax"]).await;
    let address = app.address.trim_start_matches("http://").to_string();
    let answers = tokio::task::spawn_blocking(move || {
        use std::io::Write;
        let mut stream = std::net::TcpStream::connect(&address).unwrap();
        stream.set_read_timeout(Some(std::time::Duration::from_secs(30))).unwrap();
        let body = vec![b'x'; 1024 * 1024];
        let head = format!(
            "POST /v1/models/nn-softmax/versions?mode=install HTTP/1.1\r\nhost: {address}\r\n\
             authorization: Bearer {VIEWER_TOKEN}\r\ncontent-type: multipart/form-data; boundary=b\r\n\
             content-length: {}\r\n\r\n",
            body.len()
        );
        stream.write_all(head.as_bytes()).unwrap();
        // Time for the service to judge the headers before the body follows.
        std::thread::sleep(std::time::Duration::from_millis(300));
        let sent = stream.write_all(&body);
        let refusal = read_response(&mut stream);
        let next =
            format!("GET /v1/models HTTP/1.1\r\nhost: {address}\r\nauthorization: Bearer {VIEWER_TOKEN}\r\n\r\n");
        let again = stream.write_all(next.as_bytes()).and_then(|()| read_response(&mut stream));
        (sent, refusal, again)
    })
    .await
    .unwrap();
    let (sent, refusal, again) = answers;
    sent.expect("the body could not be sent");
    let (status, body) = refusal.expect("no refusal");
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("\"forbidden\""), "{body}");
    let (status, body) = again.expect("the connection did not serve the next request");
    assert_eq!(status, 200, "{body}");
    app.stop().await;
}

#[tokio::test]
async fn lists_served_models_with_their_contract_and_the_refused_ones_with_why() {
    let app = TestApp::spawn(&["skl-rf-zipmap", "bad/wrong-dtype"]).await;
    let (status, v) = json_of(app.get("/v1/models", Some(VIEWER_TOKEN)).await).await;
    assert_eq!(status, 200);
    let models = v["models"].as_array().unwrap();
    assert_eq!(models.len(), 1, "{v}");
    assert_eq!(models[0]["name"], "skl-rf-zipmap");
    assert_eq!(models[0]["active"], true);
    assert_eq!(models[0]["features"], json!(["f0", "f1", "f2", "f3", "f4", "f5"]));
    assert_eq!(models[0]["healthy_class"], "0");
    assert!(models[0]["provenance"]["metrics"]["roc_auc"].as_f64().unwrap() > 0.5);
    let refused = v["refused"].as_array().unwrap();
    assert_eq!(refused.len(), 1);
    assert!(refused[0]["reason"].as_str().unwrap().contains("dtype mismatch"), "{v}");
    app.stop().await;
}

#[tokio::test]
async fn readyz_is_503_while_no_model_can_be_served() {
    let app_dir = tempfile::tempdir().unwrap();
    let settings = TestApp::settings(app_dir.path());
    let token = tokio_util::sync::CancellationToken::new();
    let app = prognos_server::Application::build(settings, token.clone()).await.unwrap();
    let port = app.port();
    let task = tokio::spawn(app.run_until_stopped());
    let client = reqwest::Client::new();
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let ready = client.get(format!("http://127.0.0.1:{port}/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 503);
    let health = client.get(format!("http://127.0.0.1:{port}/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    token.cancel();
    task.await.unwrap().unwrap();
}

#[tokio::test]
async fn concurrent_single_row_requests_are_batched_without_mixing_rows_up() {
    let app = TestApp::spawn(&["lgbm-binary"]).await;
    let exp = expected("lgbm-binary");
    let inputs = exp["inputs"].as_array().unwrap().clone();
    let mut tasks = Vec::new();
    for round in 0..4 {
        for (i, row) in inputs.iter().enumerate() {
            let client = app.client.clone();
            let url = format!("{}/v1/score/lgbm-binary", app.address);
            let body = json!({ "rows": [row] }).to_string();
            tasks.push(tokio::spawn(async move {
                let r = client.post(url).bearer_auth(VIEWER_TOKEN).body(body).send().await.unwrap();
                assert_eq!(r.status(), 200);
                let v: Value = r.json().await.unwrap();
                (round, i, v["predictions"][0]["health_score"].as_f64().unwrap())
            }));
        }
    }
    for t in tasks {
        let (_, i, got) = t.await.unwrap();
        let want = exp["health"][i].as_f64().unwrap();
        assert!((got - want).abs() < 1e-3, "row {i}: {got} vs {want}");
    }
    let metrics = app.get("/metrics", None).await.text().await.unwrap();
    let histogram = |suffix: &str| -> f64 {
        metrics
            .lines()
            .find(|l| l.starts_with(&format!("prognos_model_batch_rows_{suffix}")) && l.contains("lgbm-binary"))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
            .expect("batch histogram exported")
    };
    // Warm-up runs outside the workers, so every row the workers ran is one of the 256 requests.
    assert_eq!(histogram("sum"), 256.0, "{metrics}");
    assert!((1.0..=256.0).contains(&histogram("count")));
    app.stop().await;
}

#[tokio::test]
async fn metrics_show_request_counts_latency_and_model_timings() {
    let app = TestApp::spawn(&["mlp-skl"]).await;
    for _ in 0..3 {
        let r = app.post("/v1/score/mlp-skl", Some(VIEWER_TOKEN), "{\"rows\": [[0,0,0,0,0,0]]}").await;
        assert_eq!(r.status(), 200);
    }
    assert_eq!(app.post("/v1/score/mlp-skl", Some(VIEWER_TOKEN), "{").await.status(), 400);
    let text = app.get("/metrics", None).await.text().await.unwrap();
    let count = |status: &str| -> f64 {
        text.lines()
            .find(|l| {
                l.starts_with("prognos_http_requests_total")
                    && l.contains("route=\"/v1/score/{model}\"")
                    && l.contains(&format!("status=\"{status}\""))
            })
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0.0)
    };
    assert!(count("200") >= 3.0, "{text}");
    assert!(count("400") >= 1.0, "{text}");
    for needle in [
        "prognos_http_request_duration_seconds_bucket",
        "prognos_model_inference_seconds_bucket{model=\"mlp-skl\"",
        "prognos_model_load_seconds",
        "prognos_models_served",
    ] {
        assert!(text.contains(needle), "missing {needle} in\n{text}");
    }
    app.stop().await;
}
