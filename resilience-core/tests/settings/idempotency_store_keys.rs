//! In-memory idempotency stores: a document does not create them (code does, from
//! [`Settings::idempotency_store`]), but each of their keys changes behaviour after load
//! and after a reload that reconfigures them.

use std::time::Duration;

use bytes::Bytes;
use resilience_core::idempotency::{
    Claim, Commit, Fingerprint, IdempotencyStore, Lease, MemoryStore, Record,
};
use resilience_core::settings::Settings;
use tokio::time::advance;

use crate::{assert_refused, toml};

const LOCK_TTL: Duration = Duration::from_secs(60);
const DAY: Duration = Duration::from_secs(86_400);

fn store(settings: &Settings) -> MemoryStore {
    settings
        .idempotency_store("checkout")
        .unwrap()
        .build()
        .unwrap()
}

fn reconfigure(store: &MemoryStore, text: &str) {
    store
        .reconfigure(toml(text).unwrap().idempotency_store("checkout").unwrap())
        .unwrap();
}

/// Claims `key`: the lease, or the limit that refused it (`entries`, `bytes`, `scope`).
async fn claim(store: &MemoryStore, key: &str) -> Result<Lease, String> {
    match store
        .claim(key, &Fingerprint::from_bytes([1; 32]), LOCK_TTL)
        .await
    {
        Ok(Claim::Claimed(lease)) => Ok(lease),
        Ok(other) => panic!("{key}: {other:?}"),
        Err(err) => Err(err
            .field("limit")
            .map_or_else(|| err.to_string(), ToString::to_string)),
    }
}

async fn complete(store: &MemoryStore, lease: Lease) {
    let record = Record::new(200, vec![], Bytes::from_static(b"ok"));
    assert_eq!(
        store.complete(lease, record, DAY).await.unwrap(),
        Commit::Done
    );
}

#[tokio::test(start_paused = true)]
async fn max_entries_bounds_the_store_after_load_and_reload() {
    let doc = |n: usize| {
        format!("[idempotency_store.checkout]\nmax_entries = {n}\nmin_record_age = \"1s\"\n")
    };
    let s = store(&toml(&doc(3)).unwrap());
    assert_eq!(s.name().as_str(), "checkout");
    let mut leases = Vec::new();
    for key in ["a", "b", "c"] {
        leases.push(claim(&s, key).await.unwrap());
    }
    assert_eq!(claim(&s, "d").await.unwrap_err(), "entries");

    reconfigure(&s, &doc(5));
    for key in ["d", "e"] {
        leases.push(claim(&s, key).await.unwrap());
    }
    assert_eq!(claim(&s, "f").await.unwrap_err(), "entries");
    for lease in leases {
        complete(&s, lease).await;
    }
    advance(Duration::from_secs(2)).await;

    // A lower cap keeps the records until claims need room, then holds.
    reconfigure(&s, &doc(2));
    assert_eq!(s.len(), 5, "records are kept");
    let _g = claim(&s, "g").await.unwrap();
    assert_eq!(
        s.len(),
        2,
        "the oldest records made room down to the new cap"
    );
    let _h = claim(&s, "h").await.unwrap();
    assert_eq!(s.len(), 2);
    assert_eq!(
        claim(&s, "i").await.unwrap_err(),
        "entries",
        "two in flight: full"
    );
}

#[tokio::test(start_paused = true)]
async fn max_bytes_bounds_the_memory_held_after_load_and_reload() {
    // What one in-flight entry with a one-letter key costs.
    let probe = MemoryStore::new();
    let _lease = claim(&probe, "p").await.unwrap();
    let cost = probe.bytes();
    let doc =
        |n: usize| format!("[idempotency_store.checkout]\nmax_entries = 64\nmax_bytes = {n}\n");
    let s = store(&toml(&doc(2 * cost)).unwrap());
    let a = claim(&s, "a").await.unwrap();
    let b = claim(&s, "b").await.unwrap();
    assert_eq!(claim(&s, "c").await.unwrap_err(), "bytes");

    reconfigure(&s, &doc(3 * cost));
    let c = claim(&s, "c").await.unwrap();
    assert_eq!(claim(&s, "d").await.unwrap_err(), "bytes");

    // A lower limit keeps what is held; new claims wait until they fit under it.
    reconfigure(&s, &doc(cost));
    assert_eq!(s.len(), 3);
    assert_eq!(s.release(a).await.unwrap(), Commit::Done);
    assert_eq!(s.release(b).await.unwrap(), Commit::Done);
    assert_eq!(claim(&s, "d").await.unwrap_err(), "bytes");
    assert_eq!(s.release(c).await.unwrap(), Commit::Done);
    let _d = claim(&s, "d").await.unwrap();
    assert_eq!(claim(&s, "e").await.unwrap_err(), "bytes");
}

#[tokio::test(start_paused = true)]
async fn max_entries_per_scope_bounds_each_scope_after_load_and_reload() {
    let doc = |quota: &str| format!("[idempotency_store.checkout]\nmax_entries = 100\n{quota}");
    let s = store(&toml(&doc("max_entries_per_scope = 2\n")).unwrap());
    let mut held = Vec::new();
    for i in 1..=2 {
        held.push(claim(&s, &format!("alice:{i}")).await.unwrap());
    }
    assert_eq!(claim(&s, "alice:3").await.unwrap_err(), "scope");

    reconfigure(&s, &doc("max_entries_per_scope = 3\n"));
    held.push(claim(&s, "alice:3").await.unwrap());
    assert_eq!(claim(&s, "alice:4").await.unwrap_err(), "scope");

    // A lower quota keeps a scope's entries and refuses it new ones.
    reconfigure(&s, &doc("max_entries_per_scope = 1\n"));
    assert_eq!(s.len(), 3);
    assert_eq!(claim(&s, "alice:4").await.unwrap_err(), "scope");
    held.push(claim(&s, "bob:1").await.unwrap());
    assert_eq!(claim(&s, "bob:2").await.unwrap_err(), "scope");

    // A document without the key lifts the quota.
    reconfigure(&s, &doc(""));
    held.push(claim(&s, "alice:4").await.unwrap());
    held.push(claim(&s, "bob:2").await.unwrap());
}

#[tokio::test(start_paused = true)]
async fn min_record_age_protects_young_records_after_load_and_reload() {
    let doc = |age: &str| {
        format!("[idempotency_store.checkout]\nmax_entries = 1\nmin_record_age = \"{age}\"\n")
    };
    let s = store(&toml(&doc("10s")).unwrap());
    let a = claim(&s, "a").await.unwrap();
    complete(&s, a).await;
    advance(Duration::from_secs(9)).await;
    assert_eq!(claim(&s, "b").await.unwrap_err(), "entries", "a is 9s old");
    advance(Duration::from_secs(1)).await;
    let b = claim(&s, "b").await.unwrap();

    reconfigure(&s, &doc("30s"));
    complete(&s, b).await;
    advance(Duration::from_secs(29)).await;
    assert_eq!(claim(&s, "c").await.unwrap_err(), "entries", "b is 29s old");
    advance(Duration::from_secs(1)).await;
    claim(&s, "c").await.unwrap();
}

#[test]
fn idempotency_store_settings_are_validated_with_the_document_and_when_read() {
    let check = |text: &str, path: &str, problem: &str| {
        assert_refused(text, path, problem, |s| s.idempotency_store("checkout"));
    };
    let store_table = "[idempotency_store.checkout]\n";
    check(
        &format!("{store_table}max_entries = 0\n"),
        "idempotency_store.checkout.max_entries",
        "must be at least 1, got 0",
    );
    check(
        &format!("{store_table}max_bytes = 0\n"),
        "idempotency_store.checkout.max_bytes",
        "must be at least 1, got 0",
    );
    check(
        &format!("{store_table}max_entries = 10\nmax_entries_per_scope = 11\n"),
        "idempotency_store.checkout.max_entries_per_scope",
        "11",
    );
    check(
        &format!("[idempotency_store.defaults]\nmax_entries_per_scope = 0\n{store_table}"),
        "idempotency_store.checkout.max_entries_per_scope",
        "must be at least 1, got 0",
    );
    let err = toml(&format!("{store_table}shards = 4\n")).unwrap_err();
    assert_eq!(err.path(), "idempotency_store.checkout.shards");
    assert!(err.problem().contains("unknown field `"), "{err}");
    let err = toml(&format!("{store_table}min_record_age = \"later\"\n")).unwrap_err();
    assert_eq!(err.path(), "idempotency_store.checkout.min_record_age");
    let missing = Settings::default()
        .idempotency_store("nowhere")
        .unwrap_err();
    assert_eq!(missing.path(), "idempotency_store.nowhere");

    // What a live store cannot take is refused, and leaves it as it was.
    let s = MemoryStore::builder()
        .max_entries(1024)
        .shards(4)
        .build()
        .unwrap();
    let refused = |b: resilience_core::idempotency::MemoryStoreBuilder| {
        s.reconfigure(b).unwrap_err().option()
    };
    assert_eq!(refused(MemoryStore::builder().shards(8)), "shards");
    assert_eq!(
        refused(MemoryStore::builder().max_entries(2)),
        "max_entries"
    );
    assert_eq!(
        refused(MemoryStore::builder().max_entries_per_scope(5)),
        "max_entries_per_scope",
        "a quota cannot be added: the store has not counted its scopes"
    );
    assert_eq!(refused(MemoryStore::builder().max_bytes(0)), "max_bytes");
    assert_eq!(s.max_entries(), 1024);
    s.reconfigure(MemoryStore::builder().max_entries(512).shards(4))
        .unwrap();
    assert_eq!(s.max_entries(), 512);

    // Defaults and environment overrides apply as to every kind.
    let settings =
        toml("[idempotency_store.defaults]\nmax_bytes = 4096\n[idempotency_store.checkout]\n")
            .unwrap()
            .with_overrides([("RESILIENCE__IDEMPOTENCY_STORE__CHECKOUT__MAX_ENTRIES", "77")])
            .unwrap();
    let s = store(&settings);
    assert_eq!((s.max_entries(), s.max_bytes()), (77, 4096));
}
