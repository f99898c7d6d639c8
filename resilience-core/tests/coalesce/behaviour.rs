//! Keys, answers, errors and bounds.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use resilience_core::coalesce::{Coalesced, Coalescer, SharedError};
use resilience_core::{Error, ErrorKind, Primitive};

fn counting(
    calls: &Arc<AtomicUsize>,
    answer: u64,
) -> impl FnOnce() -> std::pin::Pin<Box<dyn Future<Output = u64> + Send>> + use<> {
    let calls = Arc::clone(calls);
    move || {
        Box::pin(async move {
            calls.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(10)).await;
            answer
        })
    }
}

#[tokio::test(start_paused = true)]
async fn only_requests_with_the_same_key_in_flight_share_a_call() {
    let coalescer = Coalescer::<&str, u64>::builder().build().unwrap();
    let calls = Arc::new(AtomicUsize::new(0));
    let (a1, a2, b) = tokio::join!(
        coalescer.run("a", counting(&calls, 1)),
        coalescer.run("a", counting(&calls, 2)),
        coalescer.run("b", counting(&calls, 3)),
    );
    assert_eq!(
        (a1, a2, b),
        (1, 1, 3),
        "the second `a` got the first's answer"
    );
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    // Not a cache: once the call is over, the next request calls again.
    assert_eq!(coalescer.run("a", counting(&calls, 4)).await, 4);
    assert_eq!(calls.load(Ordering::SeqCst), 3);
}

#[tokio::test(start_paused = true)]
async fn requests_without_a_key_or_past_max_keys_run_uncoalesced() {
    let coalescer = Coalescer::<u32, u64>::builder()
        .max_keys(2)
        .build()
        .unwrap();
    let calls = Arc::new(AtomicUsize::new(0));
    let answers = tokio::join!(
        coalescer.run(1, counting(&calls, 1)),
        coalescer.run(2, counting(&calls, 2)),
        coalescer.run(3, counting(&calls, 3)), // no room: alone
        coalescer.run(3, counting(&calls, 4)), // still no room: alone
        Coalesced::new(
            &coalescer,
            None,
            resilience_core::coalesce::Make(counting(&calls, 5))
        ),
    );
    assert_eq!(answers, (1, 2, 3, 4, 5));
    assert_eq!(calls.load(Ordering::SeqCst), 5);
    assert_eq!(coalescer.in_flight(), 0);
}

#[tokio::test(start_paused = true)]
async fn a_shared_error_reaches_every_waiter_with_its_kind_and_context() {
    let coalescer = Coalescer::<u8, Result<u8, SharedError>>::builder()
        .build()
        .unwrap();
    let fail = || async {
        tokio::time::sleep(Duration::from_millis(5)).await;
        Err(SharedError::new(
            Error::new(ErrorKind::Timeout)
                .with_primitive(Primitive::Timeout)
                .with_source(std::io::Error::other("slow disk")),
        ))
    };
    let (a, b, c) = tokio::join!(
        coalescer.run(1, fail),
        coalescer.run(1, fail),
        coalescer.run(1, fail)
    );
    for answer in [a, b, c] {
        let err = answer.unwrap_err().into_error();
        assert_eq!(err.kind(), ErrorKind::Timeout);
        assert_eq!(err.primitive(), Some(Primitive::Timeout));
        assert!(format!("{err:#}").ends_with(": slow disk"), "{err:#}");
    }
}

#[test]
fn a_zero_max_keys_is_refused() {
    let err = Coalescer::<u8, u8>::builder()
        .max_keys(0)
        .build()
        .unwrap_err();
    assert_eq!(
        (err.primitive(), err.option()),
        (Primitive::Coalesce, "max_keys")
    );
}
