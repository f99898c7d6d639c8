//! Loom models of the retry budget's slots: every interleaving (up to a preemption bound)
//! of deposits and withdrawals. Each model thread writes its own stripe of the slots (the
//! first one to ask takes stripe 0, the next 1, ...), so the races are between words as
//! well as on one. Run by `.ci/run`:
//! `RUSTFLAGS="--cfg loom" cargo test -p resilience-core --lib --release loom`.

use std::time::Duration;

use loom::sync::Arc;
use loom::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use loom::thread;

use super::RetryBudget;

fn model(f: impl Fn() + Send + Sync + 'static) {
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound = Some(3);
    builder.check(f);
}

/// One retry per deposit, no floor; a minute long, so time plays no part.
fn budget() -> RetryBudget {
    RetryBudget::builder()
        .ttl(Duration::from_secs(60))
        .min_per_sec(0)
        .ratio(1.0)
        .build()
        .unwrap()
}

#[test]
fn loom_racing_withdrawals_never_overdraw_the_budget() {
    model(|| {
        let budget = budget();
        budget.deposit();
        let granted = Arc::new(AtomicUsize::new(0));
        let threads: Vec<_> = (0..2)
            .map(|_| {
                let (budget, granted) = (budget.clone(), granted.clone());
                thread::spawn(move || {
                    if budget.try_withdraw() {
                        granted.fetch_add(1, SeqCst);
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert!(granted.load(SeqCst) <= 1, "one deposit, two retries");
        assert!(budget.balance() >= 0.0, "{}", budget.balance());
    });
}

#[test]
fn loom_a_deposit_racing_a_withdrawal_is_never_lost() {
    model(|| {
        let budget = budget();
        let depositor = {
            let budget = budget.clone();
            thread::spawn(move || budget.deposit())
        };
        let early = budget.try_withdraw();
        depositor.join().unwrap();
        // Whether the withdrawal came before the deposit or after, the deposit is there:
        // spent by it, or still to spend.
        assert_eq!(budget.try_withdraw(), !early);
        assert!(!budget.try_withdraw());
    });
}
