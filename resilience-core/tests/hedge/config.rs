//! Invalid configurations fail at build time, naming the option.

use std::time::Duration;

use resilience_core::hedge::{Hedge, HedgeDelay};
use resilience_core::{Primitive, Registry};

#[test]
fn invalid_options_are_refused_with_the_option_named() {
    let cases = [
        (Hedge::builder().delay(Duration::ZERO), "delay"),
        (Hedge::builder().percentile(f64::NAN), "percentile"),
        (Hedge::builder().percentile(0.0), "percentile"),
        (Hedge::builder().percentile(1.0), "percentile"),
        (Hedge::builder().window(Duration::from_millis(10)), "window"),
        (Hedge::builder().window(Duration::from_secs(7200)), "window"),
        (Hedge::builder().min_samples(0), "min_samples"),
        (Hedge::builder().max_hedges(0), "max_hedges"),
        (Hedge::builder().max_hedges(11), "max_hedges"),
    ];
    for (builder, option) in cases {
        let err = builder.build().unwrap_err();
        assert_eq!(err.option(), option, "{err}");
        assert_eq!(err.primitive(), Primitive::Hedge);
    }
}

#[test]
fn defaults_hedge_once_at_the_95th_percentile_with_a_budget() {
    let hedge = Hedge::builder().build().unwrap();
    assert_eq!(hedge.delay_kind(), HedgeDelay::Percentile(0.95));
    assert_eq!(hedge.max_hedges(), 1);
    assert!(hedge.budget().is_some());
}

#[tokio::test(start_paused = true)]
async fn the_registry_shares_a_policy_by_name_and_lists_its_snapshot() {
    let registry = Registry::new();
    let hedge = registry
        .hedge("search", |b| {
            b.delay(Duration::from_millis(30)).max_hedges(2)
        })
        .unwrap();
    let same = registry.hedge("search", |b| b.max_hedges(5)).unwrap();
    assert!(hedge.same_as(&same));
    assert_eq!(same.max_hedges(), 2, "the first configuration wins");
    let snapshot = registry.snapshot();
    assert_eq!(snapshot.hedges.len(), 1);
    assert_eq!(snapshot.hedges[0].name, "search");
    assert_eq!(snapshot.hedges[0].delay, Some(Duration::from_millis(30)));
    assert!(registry.get_hedge("search").is_some());
    assert!(registry.remove_hedge("search").is_some());
    assert!(registry.get_hedge("search").is_none());
}
