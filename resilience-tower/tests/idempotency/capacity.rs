//! A response that fits every documented cap never runs the handler twice, whatever the
//! memory store's room: it is stored (the byte budget is store-wide), or the key is kept
//! completed without it and duplicates get a clear 409.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use resilience_core::idempotency::MemoryStore;
use resilience_core::{BoxError, ErrorKind};
use resilience_tower::idempotency::IdempotencyLayer;
use tower::{Layer, ServiceExt, service_fn};

const LOCK_TTL: Duration = Duration::from_secs(60);

/// Runs the layer over `store` around a handler answering `body_len` bytes; sends the
/// same request twice, the second long after the lock TTL. Returns the handler's runs and
/// the second answer.
async fn twice(
    store: MemoryStore,
    body_len: usize,
) -> (usize, Result<Response<Bytes>, resilience_core::Error>) {
    let runs = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&runs);
    let svc =
        IdempotencyLayer::builder(store)
            .unscoped()
            .lock_ttl(LOCK_TTL)
            .build()
            .unwrap()
            .layer(service_fn(move |_: Request<Full<Bytes>>| {
                counter.fetch_add(1, Ordering::SeqCst);
                async move {
                    Ok::<_, BoxError>(Response::new(Full::new(Bytes::from(vec![b'x'; body_len]))))
                }
            }));
    let request = || {
        Request::post("/orders")
            .header("idempotency-key", "order-1")
            .body(Full::new(Bytes::from_static(b"{}")))
            .unwrap()
    };
    let first = svc.clone().oneshot(request()).await.unwrap();
    assert_eq!(first.status(), StatusCode::OK);
    let first = first.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(first.len(), body_len);
    tokio::time::advance(LOCK_TTL * 2).await;
    let second = match svc.oneshot(request()).await {
        Ok(response) => {
            let (parts, body) = response.into_parts();
            let body = body.collect().await.unwrap().to_bytes();
            Ok(Response::from_parts(parts, body))
        }
        Err(err) => Err(err),
    };
    (runs.load(Ordering::SeqCst), second)
}

#[tokio::test(start_paused = true)]
async fn a_response_larger_than_a_shards_share_of_the_store_is_replayed_not_rerun() {
    // 48 KiB of a 64 KiB store with 8 shards (an even split gave each shard 8 KiB).
    let store = MemoryStore::builder()
        .max_bytes(64 << 10)
        .shards(8)
        .build()
        .unwrap();
    let (runs, second) = twice(store, 48 << 10).await;
    assert_eq!(runs, 1, "the handler ran twice");
    let second = second.unwrap();
    assert_eq!(second.headers()["idempotent-replayed"], "true");
    assert_eq!(second.body().len(), 48 << 10);
}

#[tokio::test(start_paused = true)]
async fn a_response_the_store_has_no_room_for_is_answered_409_not_rerun() {
    // Within the layer's `max_response_body` (2 MiB), over the whole store.
    let store = MemoryStore::builder()
        .max_bytes(16 << 10)
        .shards(1)
        .build()
        .unwrap();
    let (runs, second) = twice(store, 64 << 10).await;
    assert_eq!(runs, 1, "the handler ran twice");
    let err = second.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::IdempotencyConflict);
    assert_eq!(err.retry_after(), None, "retrying cannot help");
}
