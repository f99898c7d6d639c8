//! A simulated server whose latency rises sharply past a known concurrency knee, driven
//! by far more callers than it can serve, under `tokio::time::pause()`.
//!
//! The server answers in `BASE` while at most `knee` calls are in it, and in
//! `BASE × (in flight / knee)³` beyond (twice as slow at 1.26 × the knee, 27 times at 3 ×).
//! Sixty callers call it in a closed loop through the adaptive bulkhead; a refused caller
//! backs off 5 ms. The run has three phases:
//!
//! 1. 0–30 s, knee 20: the limit must settle within ±25% of 20 within `SETTLE` and stay
//!    there, and calls admitted after that must take at most 2 × `BASE`;
//! 2. 30–45 s, other clients load the server and its knee drops to 5: the limit must
//!    come down below 20 (AIMD halves it within a second or two; Vegas, which steps by
//!    `log10(limit)` a window, comes down more slowly);
//! 3. 45–60 s, that load goes away (knee 20 again): the limit must grow back within ±25%
//!    of 20 within `SETTLE`.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use resilience_core::ErrorKind;
use resilience_core::adaptive::{AdaptiveBulkhead, Aimd, LimitAlgorithm, Vegas};
use tokio::time::Instant;

const BASE: Duration = Duration::from_millis(10);
const KNEE: usize = 20;
const LOADED_KNEE: usize = 5;
const CALLERS: usize = 60;
const SETTLE: Duration = Duration::from_secs(3);
const PHASE_2: Duration = Duration::from_secs(30);
const PHASE_3: Duration = Duration::from_secs(45);
const END: Duration = Duration::from_secs(60);

struct Server {
    in_flight: AtomicUsize,
    knee: AtomicUsize,
    /// (started after the run's start, latency) of every call served.
    served: Mutex<Vec<(Duration, Duration)>>,
    start: Instant,
}

impl Server {
    async fn call(&self) -> Result<(), std::io::Error> {
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        let knee = self.knee.load(Ordering::SeqCst);
        let over = (now as f64 / knee as f64).max(1.0);
        let latency = BASE.mul_f64(over.powi(3));
        self.served
            .lock()
            .unwrap()
            .push((self.start.elapsed(), latency));
        tokio::time::sleep(latency).await;
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
        Ok(())
    }
}

/// The limit every 100 ms, and the server's record, after a full run.
struct Trace {
    limits: Vec<(Duration, usize)>,
    served: Vec<(Duration, Duration)>,
}

impl Trace {
    fn limits_between(&self, from: Duration, to: Duration) -> Vec<usize> {
        self.limits
            .iter()
            .filter(|(t, _)| (from..to).contains(t))
            .map(|&(_, limit)| limit)
            .collect()
    }

    fn slowest_started_between(&self, from: Duration, to: Duration) -> Duration {
        self.served
            .iter()
            .filter(|(t, _)| (from..to).contains(t))
            .map(|&(_, latency)| latency)
            .max()
            .expect("calls were served")
    }
}

async fn run(algorithm: impl LimitAlgorithm) -> Trace {
    let limiter = AdaptiveBulkhead::builder()
        .name("knee")
        .algorithm(algorithm)
        .min_window(Duration::from_millis(100))
        .max_window(Duration::from_millis(100))
        .build()
        .unwrap();
    let start = Instant::now();
    let server = Arc::new(Server {
        in_flight: AtomicUsize::new(0),
        knee: AtomicUsize::new(KNEE),
        served: Mutex::new(Vec::new()),
        start,
    });
    let done = Arc::new(AtomicBool::new(false));
    let callers: Vec<_> = (0..CALLERS)
        .map(|_| {
            let limiter = limiter.clone();
            let server = Arc::clone(&server);
            let done = Arc::clone(&done);
            tokio::spawn(async move {
                while !done.load(Ordering::SeqCst) {
                    match limiter.call(server.call()).await {
                        Ok(()) => {}
                        Err(err) => {
                            assert_eq!(err.kind(), ErrorKind::BulkheadFull, "{err}");
                            tokio::time::sleep(Duration::from_millis(5)).await;
                        }
                    }
                }
            })
        })
        .collect();
    let mut limits = Vec::new();
    while start.elapsed() < END {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let t = start.elapsed();
        let knee = if (PHASE_2..PHASE_3).contains(&t) {
            LOADED_KNEE
        } else {
            KNEE
        };
        server.knee.store(knee, Ordering::SeqCst);
        limits.push((t, limiter.limit()));
    }
    done.store(true, Ordering::SeqCst);
    for caller in callers {
        caller.await.unwrap();
    }
    let served = std::mem::take(&mut *server.served.lock().unwrap());
    Trace { limits, served }
}

fn assert_converges_and_recovers(trace: &Trace) {
    let near_knee = (KNEE * 3 / 4)..=(KNEE * 5 / 4);
    let settled = trace.limits_between(SETTLE, PHASE_2);
    assert!(
        settled.iter().all(|l| near_knee.contains(l)),
        "from {SETTLE:?} on, the limit stays within ±25% of the knee ({KNEE}): {settled:?}"
    );
    let slowest = trace.slowest_started_between(SETTLE, PHASE_2);
    assert!(
        slowest <= BASE * 2,
        "admitted calls take at most twice the unloaded latency: {slowest:?}"
    );
    let loaded = trace.limits_between(PHASE_3 - Duration::from_secs(1), PHASE_3);
    assert!(
        loaded.iter().all(|&l| l < KNEE),
        "with the knee at {LOADED_KNEE}, the limit comes down: {loaded:?}"
    );
    let recovered = trace.limits_between(PHASE_3 + SETTLE, END);
    assert!(
        recovered.iter().all(|l| near_knee.contains(l))
            && recovered.iter().min() > loaded.iter().max(),
        "{SETTLE:?} after the load drops, the limit has grown back near the knee: \
         {recovered:?} (under load: {loaded:?})"
    );
    let slowest = trace.slowest_started_between(PHASE_3 + SETTLE, END);
    assert!(slowest <= BASE * 2, "and latency with it: {slowest:?}");
}

#[tokio::test(start_paused = true)]
async fn aimd_converges_near_the_knee_and_grows_back_after_load_drops() {
    // Starting far above the knee: AIMD has to find it from above.
    let aimd = Aimd::builder()
        .initial_limit(100)
        .min_limit(1)
        .max_limit(200)
        .timeout(BASE.mul_f64(1.5))
        .build()
        .unwrap();
    let trace = run(aimd).await;
    assert_converges_and_recovers(&trace);
}

#[tokio::test(start_paused = true)]
async fn vegas_converges_near_the_knee_and_grows_back_after_load_drops() {
    // Starting below the knee, as Vegas is meant to (it learns the unloaded latency).
    let vegas = Vegas::builder()
        .initial_limit(10)
        .max_limit(200)
        .build()
        .unwrap();
    let trace = run(vegas).await;
    assert_converges_and_recovers(&trace);
}
