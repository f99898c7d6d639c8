//! `DeadlineLayer` reads the `grpc-timeout` a tonic client sets; `PropagateDeadlineLayer`
//! writes what is left on the next hop.

use std::time::Duration;

use resilience_tower::deadline::DeadlineLayer;
use resilience_tower::http::HttpErrorLayer;
use tonic::Code;
use tower::ServiceBuilder;

use crate::{Echo, SAY, call, channel, remaining_ms, serve};

#[tokio::test]
async fn deadline_layer_reads_the_grpc_timeout_a_tonic_client_sets() {
    let layers = ServiceBuilder::new()
        .layer(HttpErrorLayer::new())
        .layer(DeadlineLayer::new());
    let addr = serve!(layers, Echo::default());

    let answer = call(
        channel(addr).await,
        SAY,
        "deadline",
        Some(Duration::from_millis(1500)),
    )
    .await
    .unwrap();
    let left = remaining_ms(&answer);
    assert!(left > 0 && left <= 1500, "{answer}");

    // Without a grpc-timeout (and no default), the handler runs without a deadline.
    let answer = call(channel(addr).await, SAY, "deadline", None)
        .await
        .unwrap();
    assert_eq!(answer, "none");
}

#[tokio::test]
async fn a_deadline_passing_in_the_handler_answers_deadline_exceeded() {
    // The server allows at most 50 ms whatever the caller asked for, so the server's
    // deadline (not the client's 30 s timer) is what ends the call.
    let layers = ServiceBuilder::new().layer(HttpErrorLayer::new()).layer(
        DeadlineLayer::builder()
            .max(Duration::from_millis(50))
            .build()
            .unwrap(),
    );
    let addr = serve!(layers, Echo::default());
    let status = call(
        channel(addr).await,
        SAY,
        "sleep",
        Some(Duration::from_secs(30)),
    )
    .await
    .unwrap_err();
    assert_eq!(status.code(), Code::DeadlineExceeded, "{status:?}");
}

#[tokio::test]
async fn a_malformed_grpc_timeout_is_invalid_argument() {
    let layers = ServiceBuilder::new()
        .layer(HttpErrorLayer::new())
        .layer(DeadlineLayer::new());
    let addr = serve!(layers, Echo::default());
    let client = tower::ServiceBuilder::new()
        .map_request(|mut request: http::Request<tonic::body::Body>| {
            request
                .headers_mut()
                .insert("grpc-timeout", "soon".parse().unwrap());
            request
        })
        .service(channel(addr).await);
    let status = call(client, SAY, "deadline", None).await.unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
}

#[tokio::test]
async fn propagate_deadline_layer_writes_grpc_timeout_on_the_next_hop() {
    let layers = || {
        ServiceBuilder::new()
            .layer(HttpErrorLayer::new())
            .layer(DeadlineLayer::new())
    };
    let downstream = serve!(layers(), Echo::default());
    let upstream = serve!(
        layers(),
        Echo {
            next_hop: Some(downstream),
            ..Echo::default()
        }
    );

    // The downstream server received a grpc-timeout no larger than what the caller gave
    // the upstream one: the budget travelled, shrinking.
    let answer = call(
        channel(upstream).await,
        SAY,
        "hop",
        Some(Duration::from_millis(2000)),
    )
    .await
    .unwrap();
    let left = remaining_ms(&answer);
    assert!(left > 0 && left <= 2000, "{answer}");

    // No deadline upstream: nothing is written, downstream runs without one.
    let answer = call(channel(upstream).await, SAY, "hop", None)
        .await
        .unwrap();
    assert_eq!(answer, "none");
}
