//! [`Injected`]: one call under a drawn fault — delayed, answered, aborted, hung or let
//! through. The one place where a fault's effect on an operation is written; the tower
//! layer wraps this future.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use pin_project_lite::pin_project;
use tokio::time::Sleep;

use super::{Action, Injection};
use crate::outcome::Outcome;
use crate::{Error, ErrorKind, Primitive};

/// The error answer of an injected fault, for an operation producing
/// [`Outcome<T, E>`](Outcome).
///
/// [`FailWith`] answers with a `FaultInjected` error; the tower layer's HTTP answer
/// builds a response with a chosen status instead.
pub trait Answer<T, E> {
    /// The answer, given in place of the operation's outcome.
    fn answer(self) -> Outcome<T, E>;
}

/// The default error answer: an [`ErrorKind::FaultInjected`] error with the field
/// `fault = "error"`.
#[derive(Clone, Copy, Debug, Default)]
pub struct FailWith;

impl<T, E> Answer<T, E> for FailWith {
    fn answer(self) -> Outcome<T, E> {
        Err(injected("error"))
    }
}

fn injected(fault: &'static str) -> Error {
    Error::new(ErrorKind::FaultInjected)
        .with_primitive(Primitive::Fault)
        .with_field("fault", fault)
}

pin_project! {
    /// A call under an [`Injection`]: waits out the delay (the timer is armed, and boxed,
    /// on the first poll of a delayed call only: a call without one stays small and reads
    /// no clock), then polls the operation, gives the error answer, fails with an abort
    /// (`FaultInjected`, field `fault = "abort"`), or stays pending for good. The
    /// operation is never polled before the delay, nor at all when the call does not
    /// proceed.
    ///
    /// Made by [`Fault::inject`](super::Fault::inject), or [`Injected::new`] with a draw
    /// from [`Fault::decide`](super::Fault::decide) and an answer of your own.
    #[must_use = "futures do nothing unless polled"]
    pub struct Injected<F, A> {
        delay: Option<Pin<Box<Sleep>>>,
        injection: Injection,
        answer: Option<A>,
        #[pin]
        operation: F,
    }
}

impl<F, A> Injected<F, A> {
    /// `operation` under `injection`, answering with `answer` when it says so.
    #[inline]
    pub fn new(injection: Injection, operation: F, answer: A) -> Self {
        Self {
            delay: None,
            injection,
            answer: Some(answer),
            operation,
        }
    }
}

impl<F, A, T, E> Future for Injected<F, A>
where
    F: Future<Output = Outcome<T, E>>,
    A: Answer<T, E>,
{
    type Output = Outcome<T, E>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        if let Some(delay) = this.injection.delay.take() {
            *this.delay = Some(Box::pin(tokio::time::sleep(delay)));
        }
        if let Some(sleep) = this.delay {
            ready!(sleep.as_mut().poll(cx));
            *this.delay = None;
        }
        match this.injection.action {
            Action::Answer => match this.answer.take() {
                Some(answer) => Poll::Ready(answer.answer()),
                None => panic!("`Injected` polled after completion"),
            },
            Action::Abort => Poll::Ready(Err(injected("abort"))),
            // Never woken: the caller's timeout or deadline drops it.
            Action::Hang => Poll::Pending,
            _ => this.operation.poll(cx),
        }
    }
}

impl<F, A> std::fmt::Debug for Injected<F, A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Injected")
            .field("injection", &self.injection)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::Duration;

    use tokio::time::Instant;

    use super::*;

    fn operation(polled: &Arc<AtomicBool>) -> impl Future<Output = Outcome<&'static str, ()>> {
        let polled = Arc::clone(polled);
        async move {
            polled.store(true, Ordering::SeqCst);
            Ok(Ok("done"))
        }
    }

    fn injection(delay_ms: Option<u64>, action: Action) -> Injection {
        Injection {
            delay: delay_ms.map(Duration::from_millis),
            action,
        }
    }

    #[tokio::test(start_paused = true)]
    async fn delayed_call_starts_the_operation_only_after_the_delay() {
        let polled = Arc::new(AtomicBool::new(false));
        let start = Instant::now();
        let mut call = Box::pin(Injected::new(
            injection(Some(250), Action::Proceed),
            operation(&polled),
            FailWith,
        ));
        assert!(futures_poll_once(call.as_mut()).await.is_none());
        assert!(!polled.load(Ordering::SeqCst), "polled before its delay");
        assert_eq!(call.await.unwrap().unwrap(), "done");
        assert_eq!(start.elapsed(), Duration::from_millis(250));
    }

    #[tokio::test(start_paused = true)]
    async fn answer_and_abort_never_call_the_operation() {
        for (action, fault) in [(Action::Answer, "error"), (Action::Abort, "abort")] {
            let polled = Arc::new(AtomicBool::new(false));
            let start = Instant::now();
            let err = Injected::new(injection(Some(100), action), operation(&polled), FailWith)
                .await
                .unwrap_err();
            assert_eq!(err.kind(), ErrorKind::FaultInjected);
            assert_eq!(err.primitive(), Some(Primitive::Fault));
            assert!(!err.is_rejection(), "an injected fault counts as a failure");
            assert!(err.effective_class().is_transient());
            assert_eq!(
                err.field("fault").map(ToString::to_string).as_deref(),
                Some(fault)
            );
            assert_eq!(start.elapsed(), Duration::from_millis(100));
            assert!(!polled.load(Ordering::SeqCst));
        }
    }

    #[tokio::test(start_paused = true)]
    async fn hung_call_never_completes_and_never_calls_the_operation() {
        let polled = Arc::new(AtomicBool::new(false));
        let call = Injected::new(injection(None, Action::Hang), operation(&polled), FailWith);
        let waited = tokio::time::timeout(Duration::from_secs(3600), call).await;
        assert!(waited.is_err(), "a hung call completed");
        assert!(!polled.load(Ordering::SeqCst));
    }

    #[tokio::test(start_paused = true)]
    async fn custom_answer_replaces_the_outcome() {
        struct Teapot;
        impl Answer<u16, ()> for Teapot {
            fn answer(self) -> Outcome<u16, ()> {
                Ok(Ok(418))
            }
        }
        let got = Injected::new(
            injection(None, Action::Answer),
            async { Ok(Ok(200)) },
            Teapot,
        )
        .await;
        assert_eq!(got.unwrap().unwrap(), 418);
    }

    /// Polls `future` once; `Some(output)` if it was ready.
    async fn futures_poll_once<F: Future + Unpin>(mut future: F) -> Option<F::Output> {
        std::future::poll_fn(|cx| {
            Poll::Ready(match Pin::new(&mut future).poll(cx) {
                Poll::Ready(out) => Some(out),
                Poll::Pending => None,
            })
        })
        .await
    }
}
