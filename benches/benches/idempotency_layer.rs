//! What `IdempotencyLayer` adds to a POST carrying an `Idempotency-Key`, over the
//! in-memory store: the first request (read body, fingerprint, claim, run, buffer the
//! response, complete) and a duplicate (read body, fingerprint, claim, replay), against
//! the same handler without the layer. Also allocations per request.
//!
//! No peer is measured: no general resilience library has an idempotency layer.

use std::convert::Infallible;
use std::hint::black_box;
use std::time::{Duration, Instant};

use bytes::Bytes;
use criterion::{Criterion, criterion_group, criterion_main};
use http::{HeaderValue, Request, Response};
use http_body_util::Full;
use resilience_benches::alloc::{INSTRUMENTED_SYSTEM, StatsAlloc, allocations_in};
use resilience_core::idempotency::MemoryStore;
use resilience_tower::idempotency::IdempotencyLayer;
use std::alloc::System;
use tower::{Layer, Service, ServiceExt, service_fn};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

const BODY: &[u8] = b"{\"amount\":2500,\"currency\":\"eur\",\"customer\":\"cus_9s6XKzkNRiz8i3\"}";
const ANSWER: &[u8] = b"{\"id\":\"ch_3MmlLrLkdIwHu7ix0snN0B15\",\"status\":\"succeeded\"}";

type Handler = tower::util::ServiceFn<
    fn(Request<Full<Bytes>>) -> std::future::Ready<Result<Response<Full<Bytes>>, Infallible>>,
>;

fn handler() -> Handler {
    fn answer(
        _: Request<Full<Bytes>>,
    ) -> std::future::Ready<Result<Response<Full<Bytes>>, Infallible>> {
        std::future::ready(Ok(Response::new(Full::new(Bytes::from_static(ANSWER)))))
    }
    service_fn(answer as fn(_) -> _)
}

fn post(key: HeaderValue) -> Request<Full<Bytes>> {
    let mut request = Request::post("/charges")
        .body(Full::new(Bytes::from_static(BODY)))
        .expect("valid request");
    request.headers_mut().insert("idempotency-key", key);
    request
}

fn key(n: u64) -> HeaderValue {
    HeaderValue::from(n)
}

fn layered()
-> impl Service<Request<Full<Bytes>>, Response = impl Sized, Error = impl std::fmt::Debug, Future: Send>
+ Clone {
    IdempotencyLayer::unscoped(MemoryStore::new()).layer(handler())
}

/// Runs `iters` first requests with distinct keys, on a fresh store every 10 000 (so the
/// store's size stays that of a busy service, not of the whole benchmark).
fn time_new_requests(rt: &tokio::runtime::Runtime, iters: u64) -> Duration {
    let mut total = Duration::ZERO;
    let mut done = 0;
    while done < iters {
        let chunk = (iters - done).min(10_000);
        let svc = layered();
        let start = Instant::now();
        for n in 0..chunk {
            black_box(
                rt.block_on(svc.clone().oneshot(post(key(n))))
                    .expect("answer"),
            );
        }
        total += start.elapsed();
        done += chunk;
    }
    total
}

fn idempotency_layer(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let mut group = c.benchmark_group("idempotency_layer");
    group.bench_function("baseline_handler_only", |b| {
        let svc = handler();
        b.iter(|| rt.block_on(svc.oneshot(post(key(1)))).expect("answer"));
    });
    group.bench_function("post_new_key", |b| {
        b.iter_custom(|iters| time_new_requests(&rt, iters));
    });
    group.bench_function("post_replay", |b| {
        let svc = layered();
        rt.block_on(svc.clone().oneshot(post(key(1))))
            .expect("first");
        b.iter(|| {
            rt.block_on(svc.clone().oneshot(post(key(1))))
                .expect("replay")
        });
    });
    group.bench_function("post_without_key_passthrough", |b| {
        let svc = layered();
        b.iter(|| {
            let request = Request::post("/charges")
                .body(Full::new(Bytes::from_static(BODY)))
                .expect("valid request");
            rt.block_on(svc.clone().oneshot(request)).expect("answer")
        });
    });
    group.finish();

    let base = allocations_in(GLOBAL, 1000, || {
        rt.block_on(handler().oneshot(post(key(1))))
            .expect("answer")
    });
    let svc = layered();
    let mut n = 0;
    let new = allocations_in(GLOBAL, 1000, || {
        n += 1;
        rt.block_on(svc.clone().oneshot(post(key(n))))
            .expect("answer")
    });
    let replay = allocations_in(GLOBAL, 1000, || {
        rt.block_on(svc.clone().oneshot(post(key(1))))
            .expect("replay")
    });
    println!(
        "allocations per request: handler only {base}, new key {new} (+{}), replay {replay} (+{})",
        new.saturating_sub(base),
        replay.saturating_sub(base),
    );
}

criterion_group!(benches, idempotency_layer);
criterion_main!(benches);
