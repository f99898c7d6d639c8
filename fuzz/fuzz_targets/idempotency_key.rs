//! The `Idempotency-Key` header, through the real layer: any value is answered (the
//! handler runs for a valid key, a malformed one is a 400), never a panic.

#![no_main]

use std::convert::Infallible;
use std::sync::OnceLock;

use bytes::Bytes;
use http::{HeaderValue, Request, Response, StatusCode};
use http_body_util::Full;
use libfuzzer_sys::fuzz_target;
use resilience_core::ErrorKind;
use resilience_core::idempotency::MemoryStore;
use resilience_tower::idempotency::IdempotencyLayer;
use tower::{Layer, ServiceExt, service_fn};

fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("a runtime")
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(value) = HeaderValue::from_bytes(data) else {
        return; // Not a header value at all: http refuses it before any layer sees it.
    };
    let layer = IdempotencyLayer::builder(MemoryStore::new())
        .unscoped()
        .build()
        .expect("valid");
    let svc = layer.layer(service_fn(|_: Request<Full<Bytes>>| async {
        Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(b"ran"))))
    }));
    let request = Request::post("/orders")
        .header("idempotency-key", value)
        .body(Full::new(Bytes::from_static(b"{}")))
        .expect("a valid request");
    match runtime().block_on(svc.oneshot(request)) {
        Ok(response) => assert_eq!(response.status(), StatusCode::OK),
        Err(err) => assert_eq!(err.kind(), ErrorKind::InvalidRequest, "{data:?}: {err}"),
    }
});
