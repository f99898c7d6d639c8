//! Free functions, methods, generic functions and `impl Trait` arguments keep their
//! signatures and behaviour under the options.

use std::fmt::Display;
use std::time::Duration;

use resilience_core::{ErrorKind, resilient};
use tokio::time::sleep;

use crate::support::AppError;

struct Account {
    balance: u64,
    history: Vec<u64>,
}

impl Account {
    #[resilient(name = "account.balance", timeout = "100ms")]
    async fn balance(&self, delay: Duration) -> Result<u64, AppError> {
        sleep(delay).await;
        Ok(self.balance)
    }

    #[resilient(name = "account.deposit", deadline = "1s", timeout = "100ms")]
    async fn deposit(&mut self, mut amount: u64) -> Result<&[u64], AppError> {
        if amount == 0 {
            return Err(AppError::Failed("nothing to deposit"));
        }
        amount *= 1;
        self.balance += amount;
        self.history.push(amount);
        Ok(&self.history)
    }
}

#[tokio::test(start_paused = true)]
async fn methods_on_ref_self_and_mut_self_keep_their_signatures() {
    let mut account = Account {
        balance: 10,
        history: Vec::new(),
    };
    assert_eq!(account.deposit(5).await.unwrap(), [5]);
    assert!(matches!(
        account.deposit(0).await,
        Err(AppError::Failed("nothing to deposit"))
    ));
    assert_eq!(account.balance(Duration::ZERO).await.unwrap(), 15);
    let err = account.balance(Duration::from_secs(1)).await.unwrap_err();
    assert_eq!(err.kind(), Some(ErrorKind::Timeout));
}

struct Cart {
    items: Vec<u32>,
}

impl Cart {
    #[resilient(name = "cart.add", crate = resilience_core)]
    async fn add(&mut self, item: u32) -> Result<usize, AppError> {
        if item == 0 {
            return Err(AppError::Failed("no item"));
        }
        self.items.push(item);
        Ok(self.items.len())
    }
}

#[tokio::test]
async fn a_named_mut_self_method_keeps_its_early_returns_under_a_crate_path() {
    let mut cart = Cart { items: Vec::new() };
    assert_eq!(cart.add(4).await.unwrap(), 1);
    assert_eq!(cart.add(9).await.unwrap(), 2);
    assert!(matches!(
        cart.add(0).await,
        Err(AppError::Failed("no item"))
    ));
    assert_eq!(cart.items, [4, 9]);
}

#[resilient(timeout = "1s")]
async fn describe<T: Display + Send>(
    value: T,
    suffix: impl AsRef<str>,
) -> Result<String, AppError> {
    Ok(format!("{value}{}", suffix.as_ref()))
}

#[resilient(deadline = "1s")]
async fn total(items: impl IntoIterator<Item = u32>) -> Result<u32, AppError> {
    Ok(items.into_iter().sum())
}

#[tokio::test(start_paused = true)]
async fn generic_functions_and_impl_trait_arguments_work() {
    assert_eq!(describe(7, "ms").await.unwrap(), "7ms");
    assert_eq!(describe("x", String::from("!")).await.unwrap(), "x!");
    assert_eq!(total([1, 2, 3]).await.unwrap(), 6);
    assert_eq!(total(vec![4]).await.unwrap(), 4);
}

fn assert_send<F: std::future::Future + Send>(f: F) -> F {
    f
}

#[tokio::test(start_paused = true)]
async fn the_futures_stay_send() {
    let account = Account {
        balance: 1,
        history: Vec::new(),
    };
    assert_send(account.balance(Duration::ZERO)).await.unwrap();
    assert_send(total([1])).await.unwrap();
}

#[resilient(retry(attempts = 2), timeout = "1s", deadline = "2s")]
async fn retried(text: String) -> Result<usize, AppError> {
    Ok(text.len())
}

#[tokio::test(start_paused = true)]
async fn retried_futures_stay_send() {
    assert_eq!(assert_send(retried(String::from("abc"))).await.unwrap(), 3);
}
