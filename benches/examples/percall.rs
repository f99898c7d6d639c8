//! One case of the retry and deadline benches in a loop, for instruction counts that stay
//! repeatable on a loaded machine:
//!
//! ```text
//! cargo build --release -p resilience-benches --example percall
//! valgrind --tool=callgrind --collect-atstart=no --toggle-collect='*percall::measure*' \
//!     target/release/examples/percall retry_ours 100000
//! ```
//!
//! Divide the instructions collected by the iterations: only `measure` (the calls, not
//! the setup nor the warm-up) is counted. `percall list` names the cases; without valgrind it prints
//! ns per call and allocations per call, which the shared CPU makes noisy.

use std::convert::Infallible;
use std::future::{Future, Ready, ready};
use std::hint::black_box;
use std::pin::pin;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use std::sync::LazyLock;

use http::Request;
use resilience_benches::alloc::{INSTRUMENTED_SYSTEM, StatsAlloc, allocations_in};
use resilience_benches::peers::{Echo, TowerBudgetPolicy};
use resilience_core::adaptive::{AdaptiveBulkhead, Aimd};
use resilience_core::bulkhead::Bulkhead;
use resilience_core::classify::TransientErrors;
use resilience_core::retry::{Backoff, RetryPolicy};
use resilience_core::{CircuitBreaker, Error, resilient};
use resilience_tower::adaptive::AdaptiveBulkheadLayer;
use resilience_tower::bulkhead::BulkheadLayer;
use resilience_tower::circuit_breaker::CircuitBreakerLayer;
use resilience_tower::deadline::DeadlineLayer;
use resilience_tower::retry::RetryLayer;
use tower::{Layer, Service, service_fn};

#[global_allocator]
static GLOBAL: &StatsAlloc<std::alloc::System> = &INSTRUMENTED_SYSTEM;

fn call_u64<S: Service<u64, Response = u64>>(svc: &mut S, req: u64) -> bool {
    let mut cx = Context::from_waker(Waker::noop());
    if !matches!(svc.poll_ready(&mut cx), Poll::Ready(Ok(()))) {
        return false;
    }
    let fut = pin!(svc.call(req));
    matches!(fut.poll(&mut cx), Poll::Ready(Ok(_)))
}

fn call_http<S: Service<Request<()>, Response = ()>>(svc: &mut S, req: Request<()>) -> bool {
    let mut cx = Context::from_waker(Waker::noop());
    let fut = pin!(svc.call(req));
    matches!(fut.poll(&mut cx), Poll::Ready(Ok(())))
}

fn call_http_ready<S: Service<Request<()>, Response = http::Response<()>>>(
    svc: &mut S,
    req: Request<()>,
) -> bool {
    let mut cx = Context::from_waker(Waker::noop());
    if !matches!(svc.poll_ready(&mut cx), Poll::Ready(Ok(()))) {
        return false;
    }
    let fut = pin!(svc.call(req));
    matches!(fut.poll(&mut cx), Poll::Ready(Ok(_)))
}

fn poll_once<F: Future>(fut: F) -> bool {
    let mut cx = Context::from_waker(Waker::noop());
    let fut = pin!(fut);
    fut.poll(&mut cx).is_ready()
}

fn policy(budget: bool) -> RetryPolicy {
    let mut builder = RetryPolicy::builder()
        .name("bench")
        .max_attempts(3)
        .backoff(Backoff::exponential(Duration::from_millis(100)));
    if !budget {
        builder = builder.no_budget();
    }
    builder.build().unwrap()
}

/// Our rate limit layer without headers, at a rate no loop reaches: every call admitted.
fn rate_limit_layer() -> resilience_tower::rate_limit::RateLimitLayer<
    resilience_core::rate_limit::RateLimiter,
    resilience_tower::rate_limit::Global,
    resilience_tower::rate_limit::NoHeaders,
> {
    let limiter = resilience_core::rate_limit::RateLimiter::builder()
        .rate(1e9)
        .build()
        .unwrap();
    resilience_tower::rate_limit::RateLimitLayer::new(limiter).without_headers()
}

/// tower's `RateLimit` at the same rate.
fn tower_rate_limit() -> tower::limit::RateLimitLayer {
    tower::limit::RateLimitLayer::new(1_000_000_000, Duration::from_secs(1))
}

fn breaker() -> CircuitBreaker {
    CircuitBreaker::builder().name("bench").build().unwrap()
}

fn bulkhead() -> Bulkhead {
    Bulkhead::builder().name("bench").build().unwrap()
}

fn adaptive() -> AdaptiveBulkhead {
    let aimd = Aimd::builder()
        .initial_limit(25)
        .min_limit(1)
        .build()
        .unwrap();
    AdaptiveBulkhead::builder()
        .name("bench")
        .algorithm(aimd)
        .build()
        .unwrap()
}

static BREAKER: LazyLock<CircuitBreaker> = LazyLock::new(breaker);
static BULKHEAD: LazyLock<Bulkhead> = LazyLock::new(bulkhead);

#[resilient(name = "bench.timeout", timeout = "1s")]
async fn macro_timeout(x: u64) -> Result<u64, Error> {
    Ok(black_box(x) + 1)
}

#[resilient(
    name = "bench.retry",
    retry(attempts = 3, backoff = "exponential", base = "50ms", max = "1s")
)]
async fn macro_retry(x: u64) -> Result<u64, Error> {
    Ok(black_box(x) + 1)
}

#[resilient(
    name = "bench.full",
    deadline = "2s",
    timeout = "300ms",
    retry(attempts = 3, backoff = "exponential", base = "50ms", max = "1s"),
    circuit_breaker = BREAKER,
    bulkhead = BULKHEAD,
)]
async fn macro_full(x: u64) -> Result<u64, Error> {
    Ok(black_box(x) + 1)
}

type Inner = tower::util::ServiceFn<fn(Request<()>) -> Ready<Result<(), Infallible>>>;

fn inner() -> Inner {
    service_fn(|_req: Request<()>| ready(Ok(())))
}

fn with_header() -> Request<()> {
    Request::builder()
        .header("connect-timeout-ms", "1000")
        .body(())
        .unwrap()
}

fn plain() -> Request<()> {
    Request::new(())
}

/// `n` calls of `f`, each with its prepared input.
#[inline(always)]
fn calls<I>(inputs: &mut Vec<I>, f: &mut dyn FnMut(I) -> bool) -> usize {
    let mut ok = 0;
    while let Some(input) = inputs.pop() {
        ok += usize::from(f(black_box(input)));
    }
    ok
}

/// The measured region (the one callgrind's toggle names): the calls that are divided by.
#[inline(never)]
fn measure<I>(inputs: &mut Vec<I>, f: &mut dyn FnMut(I) -> bool) -> usize {
    calls(inputs, f)
}

/// The warm-up, outside the measured region.
#[inline(never)]
fn warm_up<I>(inputs: &mut Vec<I>, f: &mut dyn FnMut(I) -> bool) -> usize {
    calls(inputs, f)
}

fn run<I>(n: usize, make: impl Fn() -> I, mut f: impl FnMut(I) -> bool) {
    // Warm up (and check the call succeeds), then measure.
    let mut warm: Vec<I> = (0..n.min(1000)).map(|_| make()).collect();
    let len = warm.len();
    assert_eq!(warm_up(&mut warm, &mut f), len, "every call succeeds");
    let mut inputs: Vec<I> = (0..n).map(|_| make()).collect();
    let t = Instant::now();
    let ok = measure(&mut inputs, &mut f);
    let ns = t.elapsed().as_nanos() as f64 / n as f64;
    assert_eq!(ok, n);
    let mut inputs: Vec<I> = (0..1000).map(|_| make()).collect();
    let allocs = allocations_in(GLOBAL, 1000, || f(inputs.pop().unwrap()));
    println!("{ns:.1} ns/call, {allocs} allocations/call");
}

const CASES: &[&str] = &[
    "retry_baseline",
    "retry_ours",
    "retry_ours_no_budget",
    "retry_tower",
    "retry_tower_resilience",
    "part_deposit",
    "part_start",
    "part_deadline_current",
    "run_baseline",
    "run_ours",
    "run_typed_ours",
    "deadline_inner_header",
    "deadline_ours_no_header",
    "deadline_ours_header",
    "deadline_ours_header_no_ext",
    "deadline_tower_timeout_header",
    "breaker_layer",
    "breaker_call",
    "rate_limit_try_acquire",
    "rate_limit_layer",
    "rate_limit_tower",
    "rate_limit_layer_http",
    "sizes",
    "rate_limit_tower_http",
    "bulkhead_layer",
    "bulkhead_call",
    "adaptive_layer",
    "adaptive_call",
    "macro_timeout",
    "macro_retry",
    "macro_full",
    "full_stack_layers",
];

fn main() {
    let mut args = std::env::args().skip(1);
    let case = args.next().unwrap_or_else(|| "list".into());
    let n: usize = args.next().map_or(100_000, |s| s.parse().unwrap());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let _entered = rt.enter();
    match case.as_str() {
        "retry_baseline" => {
            let mut s = Echo;
            run(n, || 7, |r| call_u64(&mut s, r));
        }
        "retry_ours" => {
            let mut s = RetryLayer::new(policy(true)).layer(Echo);
            run(n, || 7, |r| call_u64(&mut s, r));
        }
        "retry_ours_no_budget" => {
            let mut s = RetryLayer::new(policy(false)).layer(Echo);
            run(n, || 7, |r| call_u64(&mut s, r));
        }
        "retry_tower" => {
            let p = TowerBudgetPolicy::new(2);
            let mut s = tower::retry::RetryLayer::new(p).layer(Echo);
            run(n, || 7, |r| call_u64(&mut s, r));
        }
        "retry_tower_resilience" => {
            let mut s = tower_resilience::retry::RetryLayer::<u64, u64, Infallible>::builder()
                .max_attempts(3)
                .exponential_backoff(Duration::from_millis(100))
                .build()
                .layer(Echo);
            run(n, || 7, |r| call_u64(&mut s, r));
        }
        "part_deposit" => {
            let p = policy(true);
            let b = p.budget().unwrap().clone();
            run(
                n,
                || (),
                |()| {
                    b.deposit();
                    true
                },
            );
        }
        "part_start" => {
            let p = policy(true);
            run(n, || (), |()| black_box(p.retry_loop()).attempts() == 0);
        }
        "part_deadline_current" => {
            run(
                n,
                || (),
                |()| black_box(resilience_core::Deadline::current()).is_none(),
            );
        }
        "run_baseline" => run(
            n,
            || 7u64,
            |r| poll_once(async move { Ok::<u64, Infallible>(r) }),
        ),
        "run_ours" => {
            let p = policy(true);
            run(
                n,
                || 7u64,
                |r| poll_once(p.run(|| async move { Ok::<u64, Infallible>(r) })),
            );
        }
        "run_typed_ours" => {
            let p = policy(true);
            run(
                n,
                || 7u64,
                |r| poll_once(p.run_typed(|| async move { Ok::<u64, resilience_core::Error>(r) })),
            );
        }
        "deadline_inner_header" => {
            let mut s = inner();
            run(n, with_header, |r| call_http(&mut s, r));
        }
        "deadline_ours_no_header" => {
            let mut s = DeadlineLayer::new().layer(inner());
            run(n, plain, |r| call_http(&mut s, r));
        }
        "deadline_ours_header" => {
            let mut s = DeadlineLayer::new().layer(inner());
            run(n, with_header, |r| call_http(&mut s, r));
        }
        "deadline_ours_header_ext" => {
            let mut s = DeadlineLayer::builder()
                .request_extension(true)
                .build()
                .unwrap()
                .layer(inner());
            run(n, with_header, |r| call_http(&mut s, r));
        }
        "deadline_ours_default_timeout" => {
            let mut s = DeadlineLayer::builder()
                .default_timeout(Duration::from_secs(1))
                .build()
                .unwrap()
                .layer(inner());
            run(n, plain, |r| call_http(&mut s, r));
        }
        "deadline_tower_timeout" => {
            let mut s = tower::timeout::TimeoutLayer::new(Duration::from_secs(1)).layer(inner());
            run(n, plain, |r| call_http(&mut s, r));
        }
        "deadline_tower_timeout_header" => {
            let mut s = tower::timeout::TimeoutLayer::new(Duration::from_secs(1)).layer(inner());
            run(n, with_header, |r| call_http(&mut s, r));
        }
        "breaker_layer" => {
            let mut s = CircuitBreakerLayer::new(breaker())
                .classifier(resilience_core::classify::TransientErrors)
                .layer(Echo);
            run(n, || 7, |r| call_u64(&mut s, r));
        }
        "breaker_call" => {
            let b = breaker();
            run(
                n,
                || 7u64,
                |r| poll_once(b.call(async move { Ok::<u64, Infallible>(r) })),
            );
        }
        "rate_limit_try_acquire" => {
            // A rate no loop reaches: every call is admitted.
            let limiter = resilience_core::rate_limit::RateLimiter::builder()
                .rate(1e9)
                .burst(u32::MAX)
                .build()
                .unwrap();
            run(n, || (), |()| limiter.try_acquire().is_ok());
        }
        "rate_limit_layer" => {
            let mut s = rate_limit_layer().layer(Echo);
            run(n, || 7, |r| call_u64(&mut s, r));
        }
        "rate_limit_tower" => {
            let mut s = tower_rate_limit().layer(Echo);
            run(n, || 7, |r| call_u64(&mut s, r));
        }
        "rate_limit_layer_http" => {
            let mut s = rate_limit_layer().layer(resilience_benches::compare::suites::HttpEcho);
            run(n, plain, |r| call_http_ready(&mut s, r));
        }
        "rate_limit_tower_http" => {
            let mut s = tower_rate_limit().layer(resilience_benches::compare::suites::HttpEcho);
            run(n, plain, |r| call_http_ready(&mut s, r));
        }
        "sizes" => {
            fn size_of_future<S: Service<R>, R>(s: &mut S, r: R) -> usize {
                std::mem::size_of_val(&s.call(r))
            }
            let mut retry = RetryLayer::new(policy(true)).layer(Echo);
            let mut tower_retry =
                tower::retry::RetryLayer::new(TowerBudgetPolicy::new(2)).layer(Echo);
            println!("retry layer {}", size_of_future(&mut retry, 7));
            println!("tower retry {}", size_of_future(&mut tower_retry, 7));
            println!(
                "retry core Retrying {}",
                std::mem::size_of_val(&policy(true).run(|| async { Ok::<u64, Error>(7) }))
            );
            let mut deadline = DeadlineLayer::builder()
                .default_timeout(Duration::from_secs(1))
                .build()
                .unwrap()
                .layer(inner());
            let mut tower_timeout =
                tower::timeout::TimeoutLayer::new(Duration::from_secs(1)).layer(inner());
            println!("deadline layer {}", size_of_future(&mut deadline, plain()));
            println!(
                "tower timeout {}",
                size_of_future(&mut tower_timeout, plain())
            );
            std::process::exit(0);
        }
        "bulkhead_layer" => {
            let mut s = BulkheadLayer::new(bulkhead()).layer(Echo);
            run(n, || 7, |r| call_u64(&mut s, r));
        }
        "bulkhead_call" => {
            let b = bulkhead();
            run(n, || 7u64, |r| poll_once(b.call(async move { r })));
        }
        "adaptive_layer" => {
            let mut s = AdaptiveBulkheadLayer::new(adaptive())
                .classifier(TransientErrors)
                .layer(Echo);
            run(n, || 7, |r| call_u64(&mut s, r));
        }
        "adaptive_call" => {
            let b = adaptive();
            run(
                n,
                || 7u64,
                |r| poll_once(b.call(async move { Ok::<_, Infallible>(r) })),
            );
        }
        "macro_timeout" => run(n, || 7u64, |r| poll_once(macro_timeout(r))),
        "macro_retry" => run(n, || 7u64, |r| poll_once(macro_retry(r))),
        "macro_full" => run(n, || 7u64, |r| poll_once(macro_full(r))),
        "full_stack_layers" => {
            use resilience_benches::compare::suites::HttpEcho;
            let deadline = DeadlineLayer::builder()
                .default_timeout(Duration::from_secs(1))
                .build()
                .unwrap();
            let mut s = deadline.layer(
                RetryLayer::new(policy(true)).layer(
                    CircuitBreakerLayer::new(breaker())
                        .layer(BulkheadLayer::new(bulkhead()).layer(HttpEcho)),
                ),
            );
            let mut cx = Context::from_waker(Waker::noop());
            run(n, plain, |r| {
                let fut = pin!(s.call(r));
                matches!(fut.poll(&mut cx), Poll::Ready(Ok(_)))
            });
        }
        _ => {
            for case in CASES {
                println!("{case}");
            }
        }
    }
}
