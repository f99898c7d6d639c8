//! The attribute composes the same core calls a careful hand would: one fault script drives
//! a `#[resilient]` function and the hand-composed equivalent, and every call ends the
//! same way, after the same time, with the same body calls and breaker state.

use std::collections::VecDeque;
use std::sync::{LazyLock, Mutex};
use std::time::Duration;

use resilience_core::bulkhead::Bulkhead;
use resilience_core::circuit_breaker::CircuitBreaker;
use resilience_core::classify::TransientErrors;
use resilience_core::retry::{Backoff, Jitter, RetryPolicy};
use resilience_core::{Deadline, Error, ErrorKind, resilient};
use tokio::time::{Instant, sleep};

#[derive(Clone, Copy, Debug)]
enum Step {
    Answer(u32),
    Fail,
    Hang,
}

/// What each body invocation does, in order; `Answer(0)` once it runs out.
struct Script {
    steps: Mutex<VecDeque<Step>>,
    calls: Mutex<u32>,
}

impl Script {
    fn new(steps: &[Step]) -> Self {
        Self {
            steps: Mutex::new(steps.iter().copied().collect()),
            calls: Mutex::new(0),
        }
    }

    async fn run(&self) -> Result<u32, Error> {
        *self.calls.lock().unwrap() += 1;
        let step = self.steps.lock().unwrap().pop_front();
        match step.unwrap_or(Step::Answer(0)) {
            Step::Answer(n) => Ok(n),
            Step::Fail => Err(Error::wrap(std::io::Error::other("reset"))),
            Step::Hang => {
                sleep(Duration::from_secs(60)).await;
                Ok(u32::MAX)
            }
        }
    }

    fn calls(&self) -> u32 {
        *self.calls.lock().unwrap()
    }
}

const SCRIPT: &[Step] = &[
    // call 1: two failures, then an answer
    Step::Fail,
    Step::Fail,
    Step::Answer(1),
    // call 2: a hung attempt (timed out), then an answer
    Step::Hang,
    Step::Answer(2),
    // call 3: three failures: retries exhausted
    Step::Fail,
    Step::Fail,
    Step::Fail,
    // call 4: two more failures open the breaker (five in a row); its third attempt is
    // refused with a hint longer than the policy waits for
    Step::Fail,
    Step::Fail,
    // call 5: refused by the open breaker at once
];

fn breaker(name: &'static str) -> CircuitBreaker {
    CircuitBreaker::builder()
        .name(name)
        .consecutive_failures(5)
        .open_duration(Duration::from_secs(30))
        .build()
        .unwrap()
}

fn bulkhead(name: &'static str) -> Bulkhead {
    Bulkhead::builder()
        .name(name)
        .max_concurrent(4)
        .build()
        .unwrap()
}

static MACRO_SCRIPT: LazyLock<Script> = LazyLock::new(|| Script::new(SCRIPT));
static MACRO_BREAKER: LazyLock<CircuitBreaker> = LazyLock::new(|| breaker("eq.macro"));
static MACRO_BULKHEAD: LazyLock<Bulkhead> = LazyLock::new(|| bulkhead("eq.macro"));

#[resilient(
    name = "eq.macro",
    deadline = "2s",
    timeout = "300ms",
    retry(attempts = 3, backoff = "constant", base = "100ms", jitter = "none"),
    circuit_breaker = MACRO_BREAKER,
    bulkhead = MACRO_BULKHEAD,
)]
async fn with_macro() -> Result<u32, Error> {
    MACRO_SCRIPT.run().await
}

static HAND_SCRIPT: LazyLock<Script> = LazyLock::new(|| Script::new(SCRIPT));
static HAND_BREAKER: LazyLock<CircuitBreaker> = LazyLock::new(|| breaker("eq.hand"));
static HAND_BULKHEAD: LazyLock<Bulkhead> = LazyLock::new(|| bulkhead("eq.hand"));
static HAND_POLICY: LazyLock<RetryPolicy> = LazyLock::new(|| {
    RetryPolicy::builder()
        .name("eq.hand")
        .max_attempts(3)
        .backoff(Backoff::constant(Duration::from_millis(100)))
        .jitter(Jitter::None)
        .build()
        .unwrap()
});

/// deadline → retry → breaker → bulkhead → timeout, written out.
async fn by_hand() -> Result<u32, Error> {
    let attempt = || async {
        let permit = HAND_BREAKER.try_acquire()?;
        let limited = tokio::time::timeout(Duration::from_millis(300), HAND_SCRIPT.run());
        let result = match HAND_BULKHEAD.call(limited).await {
            Ok(Ok(result)) => result,
            Ok(Err(_elapsed)) => Err(Error::new(ErrorKind::Timeout)),
            Err(rejected) => Err(rejected),
        };
        permit.record_result(&TransientErrors, &result);
        result
    };
    Deadline::after(Duration::from_secs(2))
        .run(HAND_POLICY.run_typed(attempt))
        .await
        .and_then(|result| result)
}

/// What a caller can observe of one call.
#[derive(Debug, PartialEq)]
struct Seen {
    answer: Result<u32, (ErrorKind, Option<u32>)>,
    elapsed: Duration,
    body_calls: u32,
}

async fn observe<F: Future<Output = Result<u32, Error>>>(call: F, script: &Script) -> Seen {
    let start = Instant::now();
    let answer = call.await.map_err(|e| (e.kind(), e.attempts()));
    Seen {
        answer,
        elapsed: start.elapsed(),
        body_calls: script.calls(),
    }
}

#[tokio::test(start_paused = true)]
async fn the_attribute_behaves_as_the_hand_composed_core_calls() {
    let mut seen = Vec::new();
    for _ in 0..5 {
        let ours = observe(with_macro(), &MACRO_SCRIPT).await;
        let theirs = observe(by_hand(), &HAND_SCRIPT).await;
        assert_eq!(ours, theirs, "call {}", seen.len() + 1);
        seen.push(ours);
    }
    assert_eq!(MACRO_BREAKER.state(), HAND_BREAKER.state());

    // And the script did what it says, so the comparison covered each path.
    let answers: Vec<_> = seen.iter().map(|s| s.answer).collect();
    assert_eq!(
        answers,
        [
            Ok(1),
            Ok(2),
            Err((ErrorKind::Inner, Some(3))),
            Err((ErrorKind::CircuitOpen, Some(3))),
            Err((ErrorKind::CircuitOpen, Some(1))),
        ]
    );
    assert_eq!(
        seen[1].elapsed,
        Duration::from_millis(400),
        "timeout + delay"
    );
}
