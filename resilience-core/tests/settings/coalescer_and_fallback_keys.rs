//! Coalescers and fallbacks: a document does not create them (code does, from
//! [`Settings::coalescer`] and [`Settings::fallback`]), but each of their keys changes
//! behaviour after load and after a reload that reconfigures them.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use resilience_core::coalesce::Coalescer;
use resilience_core::fallback::{Fallback, FallbackBuilder};
use resilience_core::settings::Settings;
use resilience_core::{Error, ErrorKind};
use tokio::task::JoinHandle;
use tokio::time::advance;

use crate::{assert_refused, toml};

// ---- coalescer ----

/// How long each coalesced call takes.
const CALL: Duration = Duration::from_secs(1);

fn coalescer(settings: &Settings) -> Coalescer<String, u32> {
    settings.coalescer("profiles").unwrap().build().unwrap()
}

fn reconfigure_coalescer(c: &Coalescer<String, u32>, text: &str) {
    c.reconfigure(toml(text).unwrap().coalescer("profiles").unwrap())
        .unwrap();
}

/// A request for `key` that counts the calls it makes.
fn request(c: &Coalescer<String, u32>, key: &str, calls: &Arc<AtomicU32>) -> JoinHandle<u32> {
    let (c, key, calls) = (c.clone(), key.to_owned(), Arc::clone(calls));
    tokio::spawn(async move {
        c.run(key, || async move {
            calls.fetch_add(1, Ordering::Relaxed);
            tokio::time::sleep(CALL).await;
            7
        })
        .await
    })
}

/// Lets the spawned requests join (the calls take far longer).
async fn settle() {
    tokio::time::sleep(Duration::from_millis(1)).await;
}

#[tokio::test(start_paused = true)]
async fn coalescer_max_keys_bounds_the_keys_in_flight_after_load_and_reload() {
    let doc = |n: usize| format!("[coalescer.profiles]\nmax_keys = {n}\n");
    let c = coalescer(&toml(&doc(2)).unwrap());
    assert_eq!((c.name().as_str(), c.max_keys()), ("profiles", 2));
    let calls = Arc::new(AtomicU32::new(0));
    let mut requests = vec![request(&c, "a", &calls), request(&c, "b", &calls)];
    settle().await;
    assert_eq!(c.in_flight(), 2);
    requests.extend([request(&c, "c", &calls), request(&c, "c", &calls)]);
    settle().await;
    assert_eq!(c.in_flight(), 2, "full: a third key is not held");
    assert_eq!(
        calls.load(Ordering::Relaxed),
        4,
        "both requests for c called"
    );

    reconfigure_coalescer(&c, &doc(4));
    requests.extend([request(&c, "d", &calls), request(&c, "d", &calls)]);
    settle().await;
    assert_eq!(c.in_flight(), 3, "room for d now");
    assert_eq!(
        calls.load(Ordering::Relaxed),
        5,
        "the requests for d share one call"
    );

    // A lower cap keeps the flights in progress, and their followers still join them...
    reconfigure_coalescer(&c, &doc(1));
    requests.push(request(&c, "a", &calls));
    settle().await;
    assert_eq!(c.in_flight(), 3, "flights in progress are kept");
    assert_eq!(
        calls.load(Ordering::Relaxed),
        5,
        "a follower of a joined its call"
    );
    // ...while new keys run uncoalesced until the keys in flight drop below it.
    requests.extend([request(&c, "e", &calls), request(&c, "e", &calls)]);
    settle().await;
    assert_eq!(
        calls.load(Ordering::Relaxed),
        7,
        "both requests for e called"
    );
    for r in requests {
        assert_eq!(r.await.unwrap(), 7, "every request got its answer");
    }
    assert_eq!(c.in_flight(), 0);
    let requests = [request(&c, "f", &calls), request(&c, "g", &calls)];
    settle().await;
    assert_eq!(c.in_flight(), 1, "the new cap holds");
    for r in requests {
        r.await.unwrap();
    }
}

#[test]
fn coalescer_settings_are_validated_with_the_document_and_when_read() {
    assert_refused(
        "[coalescer.profiles]\nmax_keys = 0\n",
        "coalescer.profiles.max_keys",
        "must be at least 1, got 0",
        |s| s.coalescer::<String, u32>("profiles"),
    );
    let missing = Settings::default()
        .coalescer::<String, u32>("nowhere")
        .unwrap_err();
    assert_eq!(missing.path(), "coalescer.nowhere");

    let err = toml("[coalescer.profiles]\nmax_key = 3\n").unwrap_err();
    assert_eq!(err.path(), "coalescer.profiles.max_key");
    assert!(err.problem().contains("unknown field `"), "{err}");
    let err = toml("[coalescer.profiles]\nmax_keys = -1\n").unwrap_err();
    assert_eq!(err.path(), "coalescer.profiles.max_keys");

    // An invalid reload leaves the coalescer as it was.
    let c = coalescer(&toml("[coalescer.profiles]\nmax_keys = 5\n").unwrap());
    assert!(c.reconfigure(Coalescer::builder().max_keys(0)).is_err());
    assert_eq!(c.max_keys(), 5);

    // Defaults and environment overrides apply as to every kind.
    let settings = toml("[coalescer.defaults]\nmax_keys = 3\n[coalescer.profiles]\n").unwrap();
    assert_eq!(coalescer(&settings).max_keys(), 3);
    let settings = settings
        .with_overrides([("RESILIENCE__COALESCER__PROFILES__MAX_KEYS", "9")])
        .unwrap();
    assert_eq!(coalescer(&settings).max_keys(), 9);
    let err = Settings::default()
        .with_overrides([("RESILIENCE__COALESCER__PROFILES__MAX_KEYS", "many")])
        .unwrap_err();
    assert!(
        err.path().starts_with("coalescer.profiles.max_keys"),
        "{err}"
    );
}

// ---- fallback ----

type Prices = Fallback<u32, Error, String>;

fn base() -> FallbackBuilder<u32, Error, String> {
    Fallback::builder().stale(Duration::from_secs(3600))
}

fn fallback(settings: &Settings) -> Prices {
    settings
        .fallback("prices", base())
        .unwrap()
        .build()
        .unwrap()
}

fn reconfigure_fallback(f: &Prices, text: &str) {
    f.reconfigure(toml(text).unwrap().fallback("prices", base()).unwrap())
        .unwrap();
}

async fn succeed(f: &Prices, key: &str, value: u32) {
    assert_eq!(
        f.run(key.to_owned(), async move { Ok(value) })
            .await
            .unwrap(),
        value
    );
}

/// What a failing call for `key` gets: the stale answer, if any.
async fn on_failure(f: &Prices, key: &str) -> Option<u32> {
    f.run(key.to_owned(), async {
        Err(Error::new(ErrorKind::CircuitOpen))
    })
    .await
    .ok()
}

#[tokio::test(start_paused = true)]
async fn fallback_stale_max_age_bounds_the_age_of_a_stale_answer_after_load_and_reload() {
    let doc = |age: &str| format!("[fallback.prices]\nstale_max_age = \"{age}\"\n");
    let f = fallback(&toml(&doc("10s")).unwrap());
    assert_eq!(f.name().as_str(), "prices");
    assert_eq!(f.max_age(), Some(Duration::from_secs(10)));
    succeed(&f, "eur", 100).await;
    advance(Duration::from_secs(10)).await;
    assert_eq!(on_failure(&f, "eur").await, Some(100));
    advance(Duration::from_millis(1)).await;
    assert_eq!(on_failure(&f, "eur").await, None, "too old");

    // The entry is kept: a longer max age serves it again at the next lookup...
    reconfigure_fallback(&f, &doc("30s"));
    assert_eq!(on_failure(&f, "eur").await, Some(100));
    advance(Duration::from_secs(10)).await;
    assert_eq!(on_failure(&f, "eur").await, Some(100), "20s old");
    // ...and a shorter one refuses it at the next lookup.
    reconfigure_fallback(&f, &doc("15s"));
    assert_eq!(on_failure(&f, "eur").await, None);
    succeed(&f, "eur", 101).await;
    advance(Duration::from_secs(15)).await;
    assert_eq!(on_failure(&f, "eur").await, Some(101));
}

#[tokio::test(start_paused = true)]
async fn fallback_max_keys_bounds_the_stale_store_after_load_and_reload_at_once() {
    let doc = |n: usize| format!("[fallback.prices]\nmax_keys = {n}\n");
    let f = fallback(&toml(&doc(4)).unwrap());
    assert_eq!(f.max_keys(), Some(4));
    for (i, key) in ["a", "b", "c", "d", "e"].into_iter().enumerate() {
        succeed(&f, key, i as u32).await;
        advance(Duration::from_millis(1)).await;
    }
    assert_eq!(f.stale_keys(), 4, "full: the oldest made room");
    assert_eq!(on_failure(&f, "a").await, None);
    assert_eq!(on_failure(&f, "b").await, Some(1));

    // A lower max_keys holds at once: the oldest entries go, the newest stay.
    reconfigure_fallback(&f, &doc(2));
    assert_eq!(f.max_keys(), Some(2));
    assert_eq!(f.stale_keys(), 2);
    assert_eq!(on_failure(&f, "c").await, None);
    assert_eq!(on_failure(&f, "d").await, Some(3));
    assert_eq!(on_failure(&f, "e").await, Some(4));
    succeed(&f, "f", 5).await;
    assert_eq!(f.stale_keys(), 2);
    assert_eq!(on_failure(&f, "d").await, None);

    // A higher one makes room for more.
    reconfigure_fallback(&f, &doc(6));
    for key in ["g", "h", "i", "j", "k"] {
        succeed(&f, key, 9).await;
        advance(Duration::from_millis(1)).await;
    }
    assert_eq!(f.stale_keys(), 6);
}

#[test]
fn fallback_settings_are_validated_with_the_document_and_when_read() {
    let check = |text: &str, path: &str, problem: &str| {
        assert_refused(text, path, problem, |s| s.fallback("prices", base()));
    };
    check(
        "[fallback.prices]\nmax_keys = 0\n",
        "fallback.prices.max_keys",
        "must be at least 1, got 0",
    );
    check(
        "[fallback.prices]\nstale_max_age = \"0s\"\n",
        "fallback.prices.stale_max_age",
        "zero",
    );
    check(
        "[fallback.defaults]\nmax_keys = 0\n[fallback.prices]\n",
        "fallback.prices.max_keys",
        "must be at least 1, got 0",
    );
    let err = toml("[fallback.prices]\nstale_max_age = \"soon\"\n").unwrap_err();
    assert_eq!(err.path(), "fallback.prices.stale_max_age");
    let err = toml("[fallback.prices]\nvalue = 3\n").unwrap_err();
    assert_eq!(err.path(), "fallback.prices.value");
    assert!(err.problem().contains("unknown field `"), "{err}");

    // `stale_max_age` needs a fallback built with `stale`.
    let settings = toml("[fallback.prices]\nstale_max_age = \"5s\"\n").unwrap();
    let err = settings
        .fallback("prices", Fallback::<u32>::builder().value(0))
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "fallback.prices.stale_max_age: only valid for a fallback built with `stale`"
    );
    let missing = settings.fallback("nowhere", base()).unwrap_err();
    assert_eq!(missing.path(), "fallback.nowhere");

    // An invalid reload leaves the fallback as it was.
    let f = fallback(&settings);
    let before = (f.max_age(), f.max_keys());
    assert!(f.reconfigure(base().max_keys(0)).is_err());
    assert!(
        f.reconfigure(Fallback::builder().value(1)).is_err(),
        "stale removed"
    );
    let err = f.reconfigure(base().max_keys(8)).unwrap_err();
    assert_eq!(err.option(), "max_keys", "below the store's 16 shards");
    assert_eq!((f.max_age(), f.max_keys()), before);

    // Defaults and environment overrides apply as to every kind.
    let settings = toml("[fallback.defaults]\nstale_max_age = \"7s\"\n[fallback.prices]\n")
        .unwrap()
        .with_overrides([("RESILIENCE__FALLBACK__PRICES__MAX_KEYS", "64")])
        .unwrap();
    let f = fallback(&settings);
    assert_eq!(
        (f.max_age(), f.max_keys()),
        (Some(Duration::from_secs(7)), Some(64))
    );
    let settings = settings
        .with_overrides([("RESILIENCE__FALLBACK__PRICES__STALE_MAX_AGE", "2s")])
        .unwrap();
    assert_eq!(fallback(&settings).max_age(), Some(Duration::from_secs(2)));
}
