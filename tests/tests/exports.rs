//! Exports for data scientists over HTTP: wheel features and predictions as CSV and as Parquet, after real
//! captures went through the wheel pipeline. The Parquet file holds the CSV's table, typed; filters apply to both.

use prognos_tests::dashboard::{app as dashboard_app, feed, SEVERITIES, WORN};
use prognos_tests::parquet::{assert_same_table, read};
use prognos_tests::{repo_root, TestApp, VIEWER_TOKEN};

async fn fetch(app: &TestApp, path: &str) -> (u16, String, Vec<u8>) {
    let resp = app.get(path, Some(VIEWER_TOKEN)).await;
    let status = resp.status().as_u16();
    let kind = resp.headers().get("content-type").map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
    (status, kind, resp.bytes().await.unwrap().to_vec())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn features_and_predictions_export_as_csv_and_as_the_same_table_in_parquet() {
    let dir = tempfile::tempdir().unwrap();
    let app = dashboard_app(dir.path()).await;
    feed(&app, dir.path()).await;
    let all = SEVERITIES.len() * 2;

    for export in ["features", "predictions"] {
        let (status, kind, csv) = fetch(&app, &format!("/v1/exports/{export}.csv")).await;
        assert_eq!((status, kind.as_str()), (200, "text/csv; charset=utf-8"));
        let (status, kind, parquet) = fetch(&app, &format!("/v1/exports/{export}.parquet")).await;
        assert_eq!((status, kind.as_str()), (200, "application/vnd.apache.parquet"));
        assert_eq!(&parquet[..4], b"PAR1", "a Parquet file starts with its magic");
        let frame = read(&parquet);
        assert_eq!(assert_same_table(std::str::from_utf8(&csv).unwrap(), &frame), all, "{export}");
    }

    // The features are in the training-data format: its header, and typed columns in Parquet.
    let (_, _, csv) = fetch(&app, "/v1/exports/features.csv").await;
    let training = std::fs::read_to_string(repo_root().join("training-data/wheels/train.csv")).unwrap();
    let csv = String::from_utf8(csv).unwrap();
    assert_eq!(csv.lines().next(), training.lines().next(), "the training-data header");
    let (_, _, parquet) = fetch(&app, "/v1/exports/features.parquet").await;
    let frame = read(&parquet);
    let dtype = |name: &str| frame.column(name).unwrap().dtype().to_string();
    assert!(dtype("captured_at").starts_with("datetime[μs, UTC]"), "{}", dtype("captured_at"));
    assert_eq!(dtype("camera"), "str");
    assert_eq!(frame.column("label").unwrap().null_count(), all, "label is left empty (null)");

    // Filters apply to Parquet as to CSV.
    let (_, _, csv) = fetch(&app, &format!("/v1/exports/predictions.csv?asset={WORN}")).await;
    let (_, _, parquet) = fetch(&app, &format!("/v1/exports/predictions.parquet?asset={WORN}")).await;
    let worn = assert_same_table(std::str::from_utf8(&csv).unwrap(), &read(&parquet));
    assert_eq!(worn, SEVERITIES.len());
    let frame = read(&parquet);
    assert!(frame.column("prediction_id").unwrap().dtype().is_integer());
    assert!(frame.column("observed_at").unwrap().dtype().to_string().starts_with("datetime[μs, UTC]"));

    // The asset page links each export, and each link serves its file.
    let session = app.dashboard_session().await;
    let get = |path: String| session.get(&path).send();
    let page = get(format!("/assets/{WORN}")).await.unwrap().text().await.unwrap();
    let links: Vec<&str> = page
        .split("href=\"")
        .skip(1)
        .filter_map(|h| h.split('"').next())
        .filter(|h| h.starts_with("/exports/"))
        .collect();
    assert_eq!(links.len(), 4, "{links:?}");
    for link in links {
        let resp = get(link.replace("&amp;", "&")).await.unwrap();
        assert_eq!(resp.status(), 200, "{link}");
        let body = resp.bytes().await.unwrap();
        if link.contains(".parquet") {
            assert_eq!(read(&body).height(), SEVERITIES.len(), "{link}");
        }
    }

    // An empty export is a valid file with the columns and no rows; unknown formats and kinds are 404s.
    let (status, _, parquet) = fetch(&app, "/v1/exports/predictions.parquet?asset=nobody").await;
    assert_eq!(status, 200);
    let empty = read(&parquet);
    assert_eq!(empty.height(), 0);
    assert!(empty.get_column_names().iter().any(|n| n.as_str() == "health_score"));
    assert_eq!(fetch(&app, "/v1/exports/predictions.xlsx").await.0, 404);
    assert_eq!(fetch(&app, "/v1/exports/everything.parquet").await.0, 404);
    assert_eq!(app.get("/v1/exports/features.parquet", None).await.status().as_u16(), 401);
    app.stop().await;
}
