//! Stale-if-error: the last success per key, within its maximum age, in bounded memory.

use std::time::Duration;

use resilience_core::classify::TransientErrors;
use resilience_core::fallback::{Fallback, Used};
use resilience_core::{Error, ErrorKind, outcome};

const MAX_AGE: Duration = Duration::from_secs(30);

async fn down() -> Result<u32, Error> {
    Err(Error::new(ErrorKind::CircuitOpen))
}

#[tokio::test(start_paused = true)]
async fn stale_if_error_serves_the_last_success_up_to_its_max_age_and_not_after() {
    let fallback = Fallback::<u32, Error, &str>::builder()
        .stale(MAX_AGE)
        .build()
        .unwrap();
    fallback.run("eur", async { Ok(100) }).await.unwrap();
    fallback.run("eur", async { Ok(101) }).await.unwrap();
    tokio::time::advance(MAX_AGE).await;
    let answered = fallback
        .guard("eur", TransientErrors, outcome::lift(down()))
        .await;
    assert_eq!(answered.fallback, Some(Used::Stale { age: MAX_AGE }));
    assert_eq!(answered.outcome.unwrap().unwrap(), 101, "the last success");
    tokio::time::advance(Duration::from_millis(1)).await;
    let err = fallback.run("eur", down()).await.unwrap_err();
    assert_eq!(
        err.kind(),
        ErrorKind::CircuitOpen,
        "too old: the failure goes through"
    );
}

#[tokio::test(start_paused = true)]
async fn a_key_never_gets_another_keys_success() {
    let fallback = Fallback::<u32, Error, String>::builder()
        .stale(MAX_AGE)
        .value(0)
        .build()
        .unwrap();
    fallback
        .run("alice".to_owned(), async { Ok(7) })
        .await
        .unwrap();
    assert_eq!(
        fallback.run("bob".to_owned(), down()).await.unwrap(),
        0,
        "the value, not alice's"
    );
    assert_eq!(fallback.run("alice".to_owned(), down()).await.unwrap(), 7);
}

#[tokio::test(start_paused = true)]
async fn past_the_max_age_the_value_answers_instead() {
    let fallback = Fallback::<u32, Error>::builder()
        .stale(MAX_AGE)
        .value(0)
        .build()
        .unwrap();
    fallback.run((), async { Ok(5) }).await.unwrap();
    tokio::time::advance(MAX_AGE * 2).await;
    let answered = fallback
        .guard((), TransientErrors, outcome::lift(down()))
        .await;
    assert_eq!(answered.fallback, Some(Used::Value));
    assert_eq!(answered.outcome.unwrap().unwrap(), 0);
}

#[tokio::test(start_paused = true)]
async fn the_store_holds_at_most_max_keys_however_many_keys_arrive() {
    let fallback = Fallback::<u64, Error, u64>::builder()
        .stale(MAX_AGE)
        .max_keys(100)
        .build()
        .unwrap();
    for key in 0..10_000 {
        fallback.run(key, async move { Ok(key) }).await.unwrap();
    }
    assert!(fallback.stale_keys() <= 100, "{}", fallback.stale_keys());
    // The most recent successes are the ones kept.
    assert_eq!(
        fallback
            .run(9_999, async { Err(Error::new(ErrorKind::Inner)) })
            .await
            .unwrap(),
        9_999
    );
}
