//! Named bulkheads in the shared registry.

use std::thread;

use resilience_core::{ErrorKind, Registry};

#[test]
fn the_same_name_gives_the_same_bulkhead_and_the_first_config_wins() {
    let registry = Registry::new();
    let a = registry.bulkhead("db", |b| b.max_concurrent(2)).unwrap();
    let b = registry.bulkhead("db", |b| b.max_concurrent(50)).unwrap();
    assert!(a.same_as(&b));
    assert_eq!(b.capacity(), 2);

    // Shared state, not just equal config: permits taken through one handle count for all.
    let _one = a.try_acquire().unwrap();
    let _two = b.try_acquire().unwrap();
    assert_eq!(a.try_acquire().unwrap_err().kind(), ErrorKind::BulkheadFull);
    assert_eq!(registry.get_bulkhead("db").unwrap().in_flight(), 2);
    assert!(registry.get_bulkhead("missing").is_none());
}

#[test]
fn an_invalid_bulkhead_config_is_an_error_and_registers_nothing() {
    let registry = Registry::new();
    let err = registry
        .bulkhead("bad", |b| b.max_concurrent(0))
        .unwrap_err();
    assert_eq!(err.option(), "max_concurrent");
    assert!(registry.get_bulkhead("bad").is_none());
    assert!(registry.snapshot().bulkheads.is_empty());
}

#[test]
fn the_registry_name_wins_and_snapshots_list_bulkheads_by_name() {
    let registry = Registry::new();
    let z = registry.bulkhead("zeta", |b| b.name("ignored")).unwrap();
    assert_eq!(z.name().as_str(), "zeta");
    registry.bulkhead("alpha", |b| b.max_concurrent(3)).unwrap();
    let held = z.try_acquire().unwrap();

    let snap = registry.snapshot();
    let names: Vec<_> = snap.bulkheads.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["alpha", "zeta"]);
    assert_eq!(snap.bulkheads[0].capacity, 3);
    assert_eq!(snap.bulkheads[1].in_flight, 1);
    drop(held);

    let removed = registry.remove_bulkhead("zeta").unwrap();
    assert_eq!(removed.in_flight(), 0);
    assert!(registry.insert_bulkhead(removed).is_none());
    assert_eq!(registry.snapshot().bulkheads.len(), 2);
}

#[test]
fn concurrent_get_or_create_makes_one_bulkhead() {
    let registry = Registry::new();
    let handles: Vec<_> = thread::scope(|s| {
        let spawned: Vec<_> = (0..16)
            .map(|i| {
                let registry = &registry;
                s.spawn(move || {
                    registry
                        .bulkhead("shared", move |b| b.max_concurrent(i + 1))
                        .unwrap()
                })
            })
            .collect();
        spawned.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert!(handles.iter().all(|h| h.same_as(&handles[0])));
    assert_eq!(registry.snapshot().bulkheads.len(), 1);
}
