//! A store that could not claim a key but knows it is held (a Redis claim that timed out)
//! answers `IdempotencyConflict`: the layer answers 409 with the store's `Retry-After`,
//! and never runs the request unprotected, even when failing open.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::Full;
use resilience_core::idempotency::{
    BoxFuture, Claim, Commit, Fingerprint, IdempotencyStore, Lease, Record,
};
use resilience_core::{BoxError, Error, ErrorKind};
use resilience_tower::http::HttpErrorLayer;
use resilience_tower::idempotency::IdempotencyLayer;
use tower::{Layer, ServiceExt, service_fn};

/// Every claim times out on a key another request holds for 17 more seconds.
struct HeldElsewhere;

impl IdempotencyStore for HeldElsewhere {
    fn claim<'a>(
        &'a self,
        _: &'a str,
        _: &'a Fingerprint,
        _: Duration,
    ) -> BoxFuture<'a, Result<Claim, Error>> {
        Box::pin(async {
            Err(Error::new(ErrorKind::IdempotencyConflict)
                .with_detail("the idempotency store did not answer in time; try again")
                .with_retry_after(Duration::from_secs(17)))
        })
    }

    fn complete(&self, _: Lease, _: Record, _: Duration) -> BoxFuture<'_, Result<Commit, Error>> {
        Box::pin(async { Ok(Commit::Stale) })
    }

    fn release(&self, _: Lease) -> BoxFuture<'_, Result<Commit, Error>> {
        Box::pin(async { Ok(Commit::Stale) })
    }
}

#[tokio::test]
async fn a_claim_the_store_timed_out_on_is_409_with_the_leases_time_left_even_failing_open() {
    let runs = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&runs);
    let layer = IdempotencyLayer::builder(HeldElsewhere)
        .unscoped()
        .fail_open(true)
        .build()
        .unwrap();
    let svc =
        HttpErrorLayer::new().layer(layer.layer(service_fn(move |_: Request<Full<Bytes>>| {
            counter.fetch_add(1, Ordering::SeqCst);
            async { Ok::<_, BoxError>(Response::new(Full::new(Bytes::new()))) }
        })));
    let request = Request::post("/orders")
        .header("idempotency-key", "order-1")
        .body(Full::new(Bytes::from_static(b"{}")))
        .unwrap();
    let response = svc.oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::CONFLICT);
    assert_eq!(response.headers()["retry-after"], "17");
    assert_eq!(runs.load(Ordering::SeqCst), 0);
}
