//! MQTT subscription (rumqttc): each message on the pipeline's topics is a JSON reading, an array of them or
//! `{"readings": [...]}`. Messages arriving within `linger_ms` are stored as one batch. The session is
//! persistent and acknowledgements are manual: a QoS 1 message is acknowledged only after its readings are
//! stored, so a crash before that gets it redelivered (and the store's idempotence absorbs the repeat). The
//! connection is retried every `reconnect_s` when the broker goes away; shutdown comes through the app's token.

use std::sync::Arc;
use std::time::Duration;

use prognos_core::pipeline::MqttSource;
use prognos_formats::inverter::ParseReport;
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, Publish, QoS};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::InverterPipeline;

fn qos(n: u8) -> QoS {
    match n {
        0 => QoS::AtMostOnce,
        1 => QoS::AtLeastOnce,
        _ => QoS::ExactlyOnce,
    }
}

/// Runs the subscription until `shutdown`.
pub async fn run(pipeline: Arc<InverterPipeline>, cfg: MqttSource, shutdown: CancellationToken) {
    let id = cfg.client_id.clone().unwrap_or_else(|| format!("prognos-{}", pipeline.name()));
    let mut options = MqttOptions::new(id, cfg.host.clone(), cfg.port);
    options.set_keep_alive(Duration::from_secs(10)).set_clean_session(false).set_manual_acks(true);
    let (client, mut events) = AsyncClient::new(options, 256);
    let (tx, rx) = mpsc::channel::<Publish>(4096);
    let worker = tokio::spawn(store_loop(Arc::clone(&pipeline), client.clone(), rx, cfg.linger_ms, shutdown.clone()));
    let mut connected = false;
    loop {
        let event = tokio::select! {
            _ = shutdown.cancelled() => break,
            e = events.poll() => e,
        };
        match event {
            Ok(Event::Incoming(Packet::ConnAck(_))) => {
                connected = true;
                tracing::info!(pipeline = pipeline.name(), host = %cfg.host, port = cfg.port, "MQTT connected");
                metrics::gauge!("prognos_mqtt_connected", "pipeline" => pipeline.name().to_string()).set(1.0);
                for topic in &cfg.topics {
                    if let Err(e) = client.subscribe(topic.clone(), qos(cfg.qos)).await {
                        tracing::error!(pipeline = pipeline.name(), %topic, error = %e, "MQTT subscribe failed");
                    }
                }
            }
            Ok(Event::Incoming(Packet::Publish(p))) => {
                if tx.send(p).await.is_err() {
                    break;
                }
            }
            Ok(_) => {}
            Err(e) => {
                if connected {
                    tracing::warn!(pipeline = pipeline.name(), error = %e, "MQTT connection lost; reconnecting");
                } else {
                    tracing::debug!(pipeline = pipeline.name(), error = %e, "MQTT broker unreachable; retrying");
                }
                connected = false;
                metrics::gauge!("prognos_mqtt_connected", "pipeline" => pipeline.name().to_string()).set(0.0);
                tokio::select! {
                    _ = shutdown.cancelled() => break,
                    _ = tokio::time::sleep(Duration::from_secs(cfg.reconnect_s.max(1))) => {}
                }
            }
        }
    }
    drop(tx);
    let _ = worker.await;
    // Best effort: tell the broker we are leaving (the session and its unacknowledged messages persist).
    let _ = tokio::time::timeout(Duration::from_millis(200), client.disconnect()).await;
    tracing::info!(pipeline = pipeline.name(), "MQTT stopped");
}

/// Gathers messages for `linger_ms`, stores them as one batch, then acknowledges them.
async fn store_loop(
    pipeline: Arc<InverterPipeline>,
    client: AsyncClient,
    mut rx: mpsc::Receiver<Publish>,
    linger_ms: u64,
    shutdown: CancellationToken,
) {
    while let Some(first) = rx.recv().await {
        let mut batch = vec![first];
        let deadline = tokio::time::Instant::now() + Duration::from_millis(linger_ms);
        while batch.len() < 1000 {
            match tokio::time::timeout_at(deadline, rx.recv()).await {
                Ok(Some(p)) => batch.push(p),
                _ => break,
            }
        }
        let mut readings = Vec::new();
        let mut parse = ParseReport::default();
        for p in &batch {
            match pipeline.mapping.json(&p.payload) {
                Ok((r, rep)) => {
                    readings.extend(r);
                    parse.merge(rep);
                }
                Err(e) => {
                    super::report::count_refused(pipeline.name());
                    tracing::warn!(pipeline = pipeline.name(), topic = %p.topic, error = %e, "MQTT message refused");
                }
            }
        }
        match pipeline.ingest_parsed(readings, parse).await {
            Ok(report) => {
                tracing::debug!(
                    pipeline = pipeline.name(),
                    messages = batch.len(),
                    accepted = report.accepted,
                    rejected = report.rejected,
                    "MQTT batch stored"
                );
                for p in &batch {
                    let _ = client.ack(p).await;
                }
            }
            Err(e) => {
                // Not acknowledged: the broker redelivers after a reconnect.
                tracing::error!(pipeline = pipeline.name(), error = %e, "MQTT batch not stored");
            }
        }
        if shutdown.is_cancelled() && rx.is_empty() {
            break;
        }
    }
}
