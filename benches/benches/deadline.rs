//! The server deadline layer against tower's `Timeout`, in the same run: a request
//! without a header (the untouched path), with a header (parse, extension, ambient scope,
//! timer), and tower's `Timeout` (timer on every call). Plus allocations per call.
//!
//! The inner service answers at once, so the figures are the layers' own cost. Each
//! call is polled once with a no-op waker inside a tokio runtime context: no executor in
//! the measurement.

use std::convert::Infallible;
use std::future::{Future, Ready, ready};
use std::hint::black_box;
use std::pin::pin;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use http::Request;
use resilience_benches::alloc::{INSTRUMENTED_SYSTEM, StatsAlloc, allocations_in};
use resilience_tower::deadline::DeadlineLayer;
use tower::timeout::TimeoutLayer;
use tower::{Layer, Service, service_fn};

#[global_allocator]
static GLOBAL: &StatsAlloc<std::alloc::System> = &INSTRUMENTED_SYSTEM;

type Inner = tower::util::ServiceFn<fn(Request<()>) -> Ready<Result<(), Infallible>>>;

fn inner() -> Inner {
    service_fn(|_req: Request<()>| ready(Ok(())))
}

/// One call, polled once: every service here answers on the first poll.
fn call_once<S>(svc: &mut S, request: Request<()>) -> bool
where
    S: Service<Request<()>, Response = ()>,
{
    let mut cx = Context::from_waker(Waker::noop());
    let future = pin!(svc.call(request));
    matches!(future.poll(&mut cx), Poll::Ready(Ok(())))
}

fn plain() -> Request<()> {
    Request::new(())
}

fn with_header() -> Request<()> {
    Request::builder()
        .header("connect-timeout-ms", "1000")
        .body(())
        .unwrap()
}

fn deadline(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let _entered = rt.enter();

    let (mut baseline, mut baseline2) = (inner(), inner());
    let mut ours = DeadlineLayer::new().layer(inner());
    let mut ours2 = ours.clone();
    let mut ours_ext = DeadlineLayer::builder()
        .request_extension(true)
        .build()
        .unwrap()
        .layer(inner());
    let mut timeout = TimeoutLayer::new(Duration::from_secs(1)).layer(inner());
    let mut timeout2 = timeout.clone();

    type Call<'a> = Box<dyn FnMut(Request<()>) -> bool + 'a>;
    type Case<'a> = (&'a str, fn() -> Request<()>, Call<'a>);
    let mut cases: Vec<Case<'_>> = vec![
        (
            "inner_alone",
            plain,
            Box::new(|r| call_once(&mut baseline, r)),
        ),
        (
            "inner_alone_header_request",
            with_header,
            Box::new(|r| call_once(&mut baseline2, r)),
        ),
        (
            "resilience_no_header",
            plain,
            Box::new(|r| call_once(&mut ours, r)),
        ),
        (
            "resilience_with_header",
            with_header,
            Box::new(|r| call_once(&mut ours2, r)),
        ),
        (
            "resilience_with_header_and_extension",
            with_header,
            Box::new(|r| call_once(&mut ours_ext, r)),
        ),
        (
            "tower_timeout",
            plain,
            Box::new(|r| call_once(&mut timeout, r)),
        ),
        (
            "tower_timeout_header_request",
            with_header,
            Box::new(|r| call_once(&mut timeout2, r)),
        ),
    ];

    let mut group = c.benchmark_group("deadline_server");
    for (name, make, call) in &mut cases {
        group.bench_function(*name, |b| {
            b.iter_batched(*make, |r| call(black_box(r)), BatchSize::SmallInput);
        });
    }
    group.finish();

    // Allocations per call, requests built beforehand (a header map allocates).
    const N: u64 = 10_000;
    for (name, make, call) in &mut cases {
        let mut requests: Vec<_> = (0..N).map(|_| make()).collect();
        let n = allocations_in(GLOBAL, N, || call(requests.pop().unwrap()));
        println!("allocations per call: {name}: {n}");
    }
}

criterion_group!(benches, deadline);
criterion_main!(benches);
