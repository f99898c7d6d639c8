//! Named rate limiters in the registry.

use resilience_core::Registry;

#[test]
fn the_registry_shares_one_limiter_per_name_and_lists_it() {
    let registry = Registry::new();
    let first = registry
        .rate_limiter("search", |b| b.rate(20.0).burst(5))
        .unwrap();
    let again = registry.rate_limiter("search", |b| b.rate(1.0)).unwrap();
    assert!(first.same_as(&again), "the first configuration wins");
    assert_eq!(again.quota().burst(), 5);
    assert!(registry.get_rate_limiter("search").is_some());

    first.try_acquire_n(2).unwrap();
    let snapshot = registry.snapshot();
    assert_eq!(snapshot.rate_limiters.len(), 1);
    assert_eq!(snapshot.rate_limiters[0].name, "search");
    assert_eq!(snapshot.rate_limiters[0].available, 3);

    // No rate, no limiter: nothing is registered.
    let err = registry.rate_limiter("unset", |b| b).unwrap_err();
    assert_eq!(err.option(), "rate");
    assert!(registry.get_rate_limiter("unset").is_none());

    let removed = registry.remove_rate_limiter("search").unwrap();
    assert!(removed.same_as(&first));
    assert!(registry.insert_rate_limiter(removed).is_none());
}
