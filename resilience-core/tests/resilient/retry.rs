//! `retry(...)`: attempts, delays, classification, and arguments re-used per attempt.

use std::sync::Arc;
use std::sync::Mutex;
use std::time::Duration;

use resilience_core::{Class, Classify, ErrorKind, resilient};
use tokio::time::{Instant, sleep};

use crate::support::{AppError, Calls};

/// When each attempt of a test function started, relative to the first.
#[derive(Default)]
struct Starts(Mutex<Vec<Instant>>);

impl Starts {
    const fn new() -> Self {
        Self(Mutex::new(Vec::new()))
    }

    fn hit(&self) -> usize {
        let mut starts = self.0.lock().unwrap();
        starts.push(Instant::now());
        starts.len()
    }

    /// The gaps between consecutive attempts.
    fn gaps(&self) -> Vec<Duration> {
        let starts = self.0.lock().unwrap();
        starts.windows(2).map(|w| w[1] - w[0]).collect()
    }
}

static EXPONENTIAL: Starts = Starts::new();

#[resilient(
    name = "retry.exponential",
    retry(
        attempts = 4,
        backoff = "exponential",
        base = "100ms",
        max = "250ms",
        jitter = "none"
    )
)]
async fn always_fails() -> Result<(), AppError> {
    EXPONENTIAL.hit();
    Err(AppError::Failed("down"))
}

#[tokio::test(start_paused = true)]
async fn retries_the_configured_number_of_times_with_the_configured_delays() {
    let err = always_fails().await.unwrap_err();
    assert!(
        matches!(err, AppError::Failed("down")),
        "the last own error comes back as is"
    );
    assert_eq!(
        EXPONENTIAL.gaps(),
        [100, 200, 250].map(Duration::from_millis),
        "exponential from 100 ms, capped at 250 ms"
    );
}

static LINEAR: Starts = Starts::new();

#[resilient(retry(attempts = 3, backoff = "linear", base = "40ms", jitter = "none"))]
async fn linear() -> Result<(), AppError> {
    LINEAR.hit();
    Err(AppError::Failed("down"))
}

static CONSTANT: Starts = Starts::new();

#[resilient(retry(attempts = 3, backoff = "constant", base = "40ms", jitter = "none"))]
async fn constant() -> Result<(), AppError> {
    CONSTANT.hit();
    Err(AppError::Failed("down"))
}

#[tokio::test(start_paused = true)]
async fn linear_and_constant_backoffs_space_attempts_as_configured() {
    linear().await.unwrap_err();
    assert_eq!(LINEAR.gaps(), [40, 80].map(Duration::from_millis));
    constant().await.unwrap_err();
    assert_eq!(CONSTANT.gaps(), [40, 40].map(Duration::from_millis));
}

static FLAKY: Calls = Calls::new();

#[resilient(retry(attempts = 5, base = "10ms"))]
async fn flaky(succeed_on: u32) -> Result<u32, AppError> {
    let n = FLAKY.hit();
    if n < succeed_on {
        return Err(AppError::Failed("blip"));
    }
    Ok(n)
}

#[tokio::test(start_paused = true)]
async fn a_later_success_is_returned_and_ends_the_retries() {
    assert_eq!(flaky(3).await.unwrap(), 3);
    assert_eq!(FLAKY.get(), 3);
}

/// "not found" is the caller's problem: never retried.
struct NotFoundIsBenign;

impl<T> Classify<T, AppError> for NotFoundIsBenign {
    fn classify(&self, result: &Result<T, AppError>) -> Class {
        match result {
            Ok(_) => Class::Success,
            Err(AppError::Failed("not found")) => Class::Benign,
            Err(_) => Class::TRANSIENT,
        }
    }
}

static CLASSIFIED: Calls = Calls::new();

#[resilient(retry(attempts = 3, base = "10ms"), classify = NotFoundIsBenign)]
async fn classified(what: &'static str) -> Result<(), AppError> {
    CLASSIFIED.hit();
    Err(AppError::Failed(what))
}

#[tokio::test(start_paused = true)]
async fn classify_decides_what_is_retried() {
    classified("not found").await.unwrap_err();
    assert_eq!(CLASSIFIED.get(), 1, "benign: not retried");
    classified("reset").await.unwrap_err();
    assert_eq!(CLASSIFIED.get(), 4, "transient: retried up to attempts");
}

static TIMED: Calls = Calls::new();

#[resilient(
    retry(attempts = 3, backoff = "constant", base = "50ms", jitter = "none"),
    timeout = "100ms"
)]
async fn times_out_twice() -> Result<&'static str, AppError> {
    if TIMED.hit() < 3 {
        sleep(Duration::from_secs(10)).await;
    }
    Ok("third time")
}

#[tokio::test(start_paused = true)]
async fn the_timeout_applies_to_each_attempt_and_timeouts_are_retried() {
    let start = Instant::now();
    assert_eq!(times_out_twice().await.unwrap(), "third time");
    assert_eq!(start.elapsed(), Duration::from_millis(100 + 50 + 100 + 50));
}

#[resilient(retry(attempts = 2, base = "10ms"), timeout = "100ms")]
async fn always_slow() -> Result<(), AppError> {
    sleep(Duration::from_secs(10)).await;
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn the_last_timeout_comes_back_with_the_attempts_made() {
    let err = always_slow().await.unwrap_err();
    assert_eq!(err.kind(), Some(ErrorKind::Timeout));
    assert_eq!(err.resilience().attempts(), Some(2));
}

static BOUNDED: Calls = Calls::new();

#[resilient(
    deadline = "1s",
    retry(attempts = 100, backoff = "constant", base = "300ms", jitter = "none")
)]
async fn bounded_retries() -> Result<(), AppError> {
    BOUNDED.hit();
    Err(AppError::Failed("down"))
}

#[tokio::test(start_paused = true)]
async fn the_deadline_bounds_the_retries() {
    let start = Instant::now();
    let err = bounded_retries().await.unwrap_err();
    assert!(matches!(err, AppError::Failed("down")));
    // Attempts at 0, 300, 600 and 900 ms; the next delay would end past the deadline.
    assert_eq!(BOUNDED.get(), 4);
    assert_eq!(start.elapsed(), Duration::from_millis(900));
}

#[resilient(deadline = "1s", retry(attempts = 100, base = "10ms"))]
async fn slow_under_deadline() -> Result<(), AppError> {
    sleep(Duration::from_secs(10)).await;
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn an_attempt_running_into_the_deadline_fails_with_deadline_exceeded() {
    let start = Instant::now();
    let err = slow_under_deadline().await.unwrap_err();
    assert_eq!(err.kind(), Some(ErrorKind::DeadlineExceeded));
    assert_eq!(start.elapsed(), Duration::from_secs(1));
}

// Arguments: owned ones are cloned per attempt, references shared, `&mut self` reborrowed.

struct Store {
    writes: Vec<String>,
    fail_first: u32,
}

impl Store {
    #[resilient(retry(attempts = 3, base = "1ms"))]
    async fn write(&mut self, mut line: String, tag: &str) -> Result<usize, AppError> {
        line.push_str(tag);
        self.writes.push(line);
        if self.fail_first > 0 {
            self.fail_first -= 1;
            return Err(AppError::Failed("io"));
        }
        Ok(self.writes.len())
    }

    #[resilient(retry(attempts = 3, base = "1ms"))]
    async fn count(&self, calls: &Calls) -> Result<usize, AppError> {
        if calls.hit() < 2 {
            return Err(AppError::Failed("io"));
        }
        Ok(self.writes.len())
    }
}

#[tokio::test(start_paused = true)]
async fn methods_retry_with_fresh_owned_arguments_and_a_reborrowed_mut_self() {
    let mut store = Store {
        writes: Vec::new(),
        fail_first: 2,
    };
    let n = store.write(String::from("a"), "!").await.unwrap();
    assert_eq!(n, 3);
    assert_eq!(
        store.writes,
        ["a!", "a!", "a!"],
        "each attempt got the original `line`"
    );
    let calls = Calls::new();
    assert_eq!(store.count(&calls).await.unwrap(), 3);
    assert_eq!(calls.get(), 2);
}

#[resilient(retry(attempts = 3, base = "1ms"))]
async fn generic_sum<T>(
    items: Vec<T>,
    more: impl IntoIterator<Item = T> + Clone,
    calls: &Calls,
) -> Result<T, AppError>
where
    T: Clone + std::iter::Sum<T>,
{
    if calls.hit() < 3 {
        return Err(AppError::Failed("blip"));
    }
    Ok(items.into_iter().chain(more).sum())
}

#[tokio::test(start_paused = true)]
async fn generic_functions_and_impl_trait_arguments_are_retried() {
    let calls = Calls::new();
    let total = generic_sum(vec![1_u64, 2], [3, 4], &calls).await.unwrap();
    assert_eq!((total, calls.get()), (10, 3));
}

#[resilient(retry(attempts = 3, base = "1ms"))]
async fn shared(counter: Arc<Calls>) -> Result<u32, AppError> {
    let n = counter.hit();
    if n < 2 {
        return Err(AppError::Failed("blip"));
    }
    Ok(n)
}

#[tokio::test(start_paused = true)]
async fn an_arc_argument_is_shared_by_the_attempts() {
    let counter = Arc::new(Calls::new());
    assert_eq!(shared(Arc::clone(&counter)).await.unwrap(), 2);
    assert_eq!(counter.get(), 2);
}

// Budgets shared by name (registry) or by path.

static SPENDER: Calls = Calls::new();

#[resilient(retry(attempts = 10, base = "1ms", budget = "tests.shared_budget"))]
async fn spender() -> Result<(), resilience_core::Error> {
    SPENDER.hit();
    Err(resilience_core::Error::new(ErrorKind::Inner))
}

#[resilient(retry(attempts = 10, base = "1ms", budget = "tests.shared_budget"))]
async fn saver() -> Result<(), AppError> {
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn functions_naming_one_budget_share_its_retries() {
    resilience_core::Registry::global()
        .retry_budget("tests.shared_budget", |b| b.min_per_sec(0).ratio(0.5))
        .unwrap();
    // Three successful calls deposit 1.5 retries; the failing call's own deposit makes 2.
    for _ in 0..3 {
        saver().await.unwrap();
    }
    let err = spender().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::RetryBudgetExhausted);
    assert_eq!(
        SPENDER.get(),
        3,
        "the first attempt and the two retries the budget allowed"
    );
}

static PATH_BUDGET: std::sync::LazyLock<resilience_core::retry::RetryBudget> =
    std::sync::LazyLock::new(|| {
        resilience_core::retry::RetryBudget::builder()
            .min_per_sec(0)
            .ratio(0.0)
            .build()
            .unwrap()
    });

static NO_RETRIES: Calls = Calls::new();

#[resilient(retry(attempts = 10, base = "1ms", budget = PATH_BUDGET))]
async fn no_retries() -> Result<(), AppError> {
    NO_RETRIES.hit();
    Err(AppError::Failed("down"))
}

#[tokio::test(start_paused = true)]
async fn a_budget_can_be_a_static() {
    no_retries().await.unwrap_err();
    assert_eq!(NO_RETRIES.get(), 1, "an empty budget allows no retry");
}
