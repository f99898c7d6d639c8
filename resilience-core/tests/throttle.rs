//! Client-side adaptive throttling against a backend that rejects 90% of calls, its
//! recovery, what counts, configuration and the registry, under `tokio::time::pause()`.

use std::future::Future;
use std::task::{Context, Waker};
use std::time::Duration;

use resilience_core::throttle::AdaptiveThrottle;
use resilience_core::{Error, ErrorKind, Primitive, Registry};

const WINDOW: Duration = Duration::from_secs(10);
const K: f64 = 2.0;

#[derive(Default, Debug, Clone, Copy)]
struct Counts {
    attempted: u32,
    sent: u32,
    accepted: u32,
}

/// A backend that rejects all calls but every `accept_every`-th it receives (counted in
/// `received` across runs) with `BulkheadFull`, what a shedding layer below answers, and
/// a client sending 100 calls a second for `seconds`.
async fn drive(
    throttle: &AdaptiveThrottle,
    received: &mut u32,
    seconds: u64,
    accept_every: u32,
) -> Counts {
    let mut counts = Counts::default();
    for _ in 0..seconds * 100 {
        tokio::time::sleep(Duration::from_millis(10)).await;
        counts.attempted += 1;
        let mut sent = false;
        let mut accepted = false;
        let result = throttle
            .call(async {
                sent = true;
                counts.sent += 1;
                *received += 1;
                if *received % accept_every == 0 {
                    accepted = true;
                    Ok(())
                } else {
                    Err(Error::new(ErrorKind::BulkheadFull))
                }
            })
            .await;
        counts.accepted += u32::from(accepted);
        match result {
            Ok(()) => assert!(accepted),
            Err(err) if !sent => assert_eq!(err.kind(), ErrorKind::Throttled),
            Err(err) => assert_eq!(err.kind(), ErrorKind::BulkheadFull),
        }
    }
    counts
}

fn throttle() -> AdaptiveThrottle {
    AdaptiveThrottle::builder()
        .name("backend")
        .multiplier(K)
        .window(WINDOW)
        .build()
        .unwrap()
}

#[tokio::test(start_paused = true)]
async fn against_a_backend_rejecting_90_percent_the_client_sends_about_k_times_what_is_accepted() {
    let throttle = throttle();
    let mut received = 0;
    // 120 s, twelve windows, 12,000 calls attempted.
    let run = drive(&throttle, &mut received, 120, 10).await;
    // K × accepts, plus the formula's `+ 1` once per window and as much again for the
    // window's buckets sliding: sent ≤ K × accepted + 2 per window.
    let bound = K * f64::from(run.accepted) + 2.0 * 12.0;
    assert!(
        f64::from(run.sent) <= bound,
        "sent {} > K × accepted ({}) + 24: {run:?}",
        run.sent,
        run.accepted
    );
    assert!(run.accepted > 0, "the backend did accept some: {run:?}");
    assert!(run.sent * 100 < run.attempted, "under 1% goes out: {run:?}");
    assert!(throttle.rejection_probability() > 0.95);
}

#[tokio::test(start_paused = true)]
async fn recovers_to_full_sending_within_six_windows_once_the_backend_accepts_again() {
    let throttle = throttle();
    let mut received = 0;
    drive(&throttle, &mut received, 60, 10).await;
    assert!(throttle.rejection_probability() > 0.95);

    // Now every call is accepted. What gets through is accepted, so sending grows about
    // e-fold every window / K = 5 s, from about one call a window to the 1,000 a window
    // of full sending: about 5 s × ln(1000) ≈ 35 s, plus a bucket of lag. The bound:
    // six windows, 60 s (it takes 44 s here).
    let mut full_at = None;
    for second in 1..=60_u64 {
        let counts = drive(&throttle, &mut received, 1, 1).await;
        if counts.sent == counts.attempted && full_at.is_none() {
            full_at = Some(second);
        }
    }
    let full_at = full_at.expect("sending every call again within 60 s");
    assert!(
        full_at > 5,
        "not at once: it had to earn it back ({full_at} s)"
    );
    assert_eq!(throttle.rejection_probability(), 0.0);
    let after = drive(&throttle, &mut received, 5, 1).await;
    assert_eq!(after.sent, after.attempted, "{after:?}");
}

#[tokio::test(start_paused = true)]
async fn a_refusal_is_a_counted_rejection_from_the_throttle_and_cancelled_calls_do_not_count() {
    use metrics_util::debugging::{DebugValue, DebuggingRecorder};

    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let throttle = metrics::with_local_recorder(&recorder, throttle);
    let shed = || throttle.call(async { Err::<(), _>(Error::new(ErrorKind::CircuitOpen)) });
    let mut refused = None;
    for _ in 0..100 {
        if let Err(err) = shed().await {
            if err.kind() == ErrorKind::Throttled {
                refused = Some(err);
            }
        }
    }
    let err = refused.expect("an open breaker below is a rejection: it throttles");
    assert!(err.is_rejection());
    assert_eq!(err.primitive(), Some(Primitive::Throttle));
    assert_eq!(err.instance(), Some("backend"));
    assert!(err.field("rejection_probability").is_some());

    let before = throttle.snapshot();
    assert_eq!(before.requests, 100);
    assert_eq!(before.accepts, 0);
    assert!(before.rejection_probability > 0.9);
    // A call let through and dropped before it completes is neither a request nor an
    // accept.
    let fresh = AdaptiveThrottle::builder().build().unwrap();
    let mut pending = Box::pin(fresh.call(std::future::pending::<Result<(), Error>>()));
    let polled = pending
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()));
    assert!(polled.is_pending(), "let through, still running");
    drop(pending);
    assert_eq!(fresh.snapshot().requests, 0);

    let counter = snapshotter
        .snapshot()
        .into_vec()
        .into_iter()
        .find(|(key, ..)| key.key().name() == "resilience_throttle_rejected_total")
        .expect("the counter was registered");
    let DebugValue::Counter(n) = counter.3 else {
        panic!("a counter")
    };
    assert!(n > 80, "{n}");
}

#[tokio::test(start_paused = true)]
async fn a_backend_that_accepts_everything_is_never_throttled_and_failures_are_accepted() {
    let throttle = throttle();
    for i in 0..1_000 {
        let result = throttle
            .call(async move {
                // A failure the backend answered is not a rejection.
                if i % 2 == 0 {
                    Err(std::io::Error::other("bad row"))
                } else {
                    Ok(())
                }
            })
            .await;
        if let Err(err) = result {
            assert_eq!(err.kind(), ErrorKind::Inner);
        }
    }
    let snapshot = throttle.snapshot();
    assert_eq!((snapshot.requests, snapshot.accepts), (1_000, 1_000));
    assert_eq!(snapshot.rejection_probability, 0.0);
}

#[test]
fn invalid_multipliers_and_windows_are_refused() {
    let option =
        |b: resilience_core::throttle::AdaptiveThrottleBuilder| b.build().unwrap_err().option();
    for k in [0.5, 0.0, f64::NAN, f64::INFINITY] {
        assert_eq!(
            option(AdaptiveThrottle::builder().multiplier(k)),
            "multiplier"
        );
    }
    for window in [Duration::ZERO, Duration::from_secs(3 * 86_400)] {
        assert_eq!(option(AdaptiveThrottle::builder().window(window)), "window");
    }
    assert!(AdaptiveThrottle::builder().multiplier(1.0).build().is_ok());
}

#[tokio::test(start_paused = true)]
async fn registry_shares_throttles_and_snapshots_their_probability() {
    let registry = Registry::new();
    let first = registry.throttle("backend", |b| b.window(WINDOW)).unwrap();
    let again = registry.throttle("backend", |b| b).unwrap();
    assert!(first.same_as(&again));
    for _ in 0..50 {
        let _ = first
            .call(async { Err::<(), _>(Error::new(ErrorKind::BulkheadFull)) })
            .await;
    }
    let snapshot = registry.snapshot();
    assert_eq!(snapshot.throttles.len(), 1);
    assert_eq!(snapshot.throttles[0].name, "backend");
    assert_eq!(
        snapshot.throttles[0].rejection_probability,
        first.rejection_probability()
    );
    assert!(snapshot.throttles[0].rejection_probability > 0.9);
    assert!(registry.get_throttle("backend").is_some());
    assert!(registry.remove_throttle("backend").is_some());
}

#[tokio::test(start_paused = true)]
async fn a_call_decides_when_first_polled_not_when_made() {
    let throttle = throttle();
    for _ in 0..100 {
        let _ = throttle
            .call(async { Err::<(), _>(Error::new(ErrorKind::CircuitOpen)) })
            .await;
    }
    let before = throttle.snapshot().requests;
    assert!(throttle.rejection_probability() > 0.9);
    // Made, never polled: no decision, so no refusal counted (deciding at once would have
    // refused, and counted, nearly all twenty).
    for _ in 0..20 {
        drop(throttle.call(async { Ok::<_, Error>(()) }));
    }
    assert_eq!(throttle.snapshot().requests, before);
}
