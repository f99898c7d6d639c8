//! The ambient deadline: [`scope`] sets it for a future, [`propagate`] carries it into
//! spawned work.

use std::cell::Cell;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use pin_project_lite::pin_project;

use super::Deadline;

thread_local! {
    /// The ambient deadline of whatever this thread is running now. Set only around a
    /// poll (or a synchronous call) by [`enter`], and restored after it, which is what a
    /// tokio task-local does too; a plain `Cell` in a `const` thread-local is one
    /// register-relative load or store, where a task-local costs a lazily initialised
    /// `RefCell` and a swap on every entry and exit.
    static CURRENT: Cell<Option<Deadline>> = const { Cell::new(None) };
}

/// The ambient deadline, if any.
#[inline(always)]
pub(super) fn current() -> Option<Deadline> {
    CURRENT.get()
}

/// Puts back, when dropped (also in a panic), the deadline that was ambient before one
/// was set: `None` when nothing was set.
struct Restore(Option<Option<Deadline>>);

impl Drop for Restore {
    #[inline(always)]
    fn drop(&mut self) {
        if let Some(before) = self.0 {
            CURRENT.set(before);
        }
    }
}

/// Runs `f` with exactly `deadline` ambient (the caller has already taken any outer
/// deadline into account), and restores what was ambient before, also if `f` panics.
#[inline(always)]
pub(super) fn enter<R>(deadline: Deadline, f: impl FnOnce() -> R) -> R {
    let _restore = Restore(Some(CURRENT.replace(Some(deadline))));
    f()
}

/// Runs `future` with `deadline` as the ambient deadline.
///
/// Inside, [`Deadline::current`] returns the earlier of `deadline` and any deadline already
/// in force where the returned future is first polled: a nested scope never extends the
/// deadline of the scope around it.
///
/// The scope only *sets* the deadline; it does not cancel `future` when the deadline passes.
/// The primitives read it to bound their waits; [`enforce`](super::enforce) (or
/// [`Deadline::run`], which is `scope` and `enforce` in one) abandons the future when it
/// passes.
pub fn scope<F: Future>(deadline: Deadline, future: F) -> Scope<F> {
    Scope {
        requested: deadline,
        effective: None,
        future,
    }
}

/// Runs `f` with `deadline` as the ambient deadline: the synchronous counterpart of
/// [`scope`], for code that *creates* futures and reads the deadline while doing so.
///
/// As with [`scope`], an earlier deadline already in force wins. The deadline is ambient
/// only while `f` runs; a future `f` returns does not keep it (wrap that in [`scope`]).
///
/// A tower service's `call` is such code: a bulkhead layer takes its permit, or its place
/// in the queue, in `call`, and bounds a wait by the deadline it sees there. The server
/// `DeadlineLayer` of `resilience-tower` calls its inner service inside
/// [`sync_scope_with`], which hands it the request instead of capturing it.
///
/// ```
/// use std::time::Duration;
/// use resilience_core::deadline::{self, Deadline};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let d = Deadline::after(Duration::from_secs(1));
/// assert_eq!(deadline::sync_scope(d, Deadline::current), Some(d));
/// assert_eq!(Deadline::current(), None);
/// # }
/// ```
#[inline(always)]
pub fn sync_scope<R>(deadline: Deadline, f: impl FnOnce() -> R) -> R {
    sync_scope_with(deadline, (), |()| f())
}

/// [`sync_scope`] handing `arg` to `f`, for a call that passes a large value on, such as
/// a request to a service's `call`: a value `f` captured would be copied into the closure
/// first, one passed as its argument goes straight on. `deadline` may be an
/// `Option<Deadline>`, `None` setting nothing (as [`sync_scope_opt`]). The tower layers
/// call their inner services this way (the server `DeadlineLayer` takes 45 instructions
/// fewer per request than capturing an `http::Request`).
///
/// ```
/// use std::time::Duration;
/// use resilience_core::deadline::{self, Deadline};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let d = Deadline::after(Duration::from_secs(1));
/// let seen = deadline::sync_scope_with(d, "request", |request| (request, Deadline::current()));
/// assert_eq!(seen, ("request", Some(d)));
/// let seen = deadline::sync_scope_with(None, "request", |request| (request, Deadline::current()));
/// assert_eq!(seen, ("request", None));
/// assert_eq!(Deadline::current(), None);
/// # }
/// ```
#[inline(always)]
pub fn sync_scope_with<A, R>(
    deadline: impl Into<Option<Deadline>>,
    arg: A,
    f: impl FnOnce(A) -> R,
) -> R {
    // One call of `f` whatever the deadline, so that it is inlined once; nothing to set
    // (or restore) unless `deadline` is earlier than the one already ambient. Not through
    // `enter`: its closure would capture `arg`, the copy this avoids.
    let _restore = Restore(match deadline.into() {
        Some(deadline) if current().is_none_or(|outer| deadline < outer) => {
            Some(CURRENT.replace(Some(deadline)))
        }
        _ => None,
    });
    f(arg)
}

/// [`sync_scope`] if there is a deadline, else `f` alone: for code that holds an
/// `Option<Deadline>` (one read from a request, or kept from where a call was made).
///
/// ```
/// use std::time::Duration;
/// use resilience_core::deadline::{self, Deadline};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let d = Deadline::after(Duration::from_secs(1));
/// assert_eq!(deadline::sync_scope_opt(Some(d), Deadline::current), Some(d));
/// assert_eq!(deadline::sync_scope_opt(None, Deadline::current), None);
/// // As with `sync_scope`, an earlier deadline already in force wins.
/// let later = Deadline::after(Duration::from_secs(5));
/// deadline::sync_scope(d, || {
///     assert_eq!(deadline::sync_scope_opt(Some(later), Deadline::current), Some(d));
/// });
/// assert_eq!(Deadline::current(), None);
/// # }
/// ```
#[inline(always)]
pub fn sync_scope_opt<R>(deadline: Option<Deadline>, f: impl FnOnce() -> R) -> R {
    sync_scope_with(deadline, (), |()| f())
}

pin_project! {
    /// The future returned by [`scope`].
    #[must_use = "futures do nothing unless polled"]
    pub struct Scope<F> {
        requested: Deadline,
        effective: Option<Deadline>,
        #[pin]
        future: F,
    }
}

impl<F: fmt::Debug> fmt::Debug for Scope<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Scope")
            .field("deadline", &self.effective.unwrap_or(self.requested))
            .field("future", &self.future)
            .finish()
    }
}

impl<F: Future> Future for Scope<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        // Resolved on the first poll, where the enclosing scope (if any) is in force.
        let deadline = *this.effective.get_or_insert_with(|| {
            current().map_or(*this.requested, |outer| outer.min(*this.requested))
        });
        let future = this.future;
        enter(deadline, || future.poll(cx))
    }
}

/// Captures the ambient deadline *now* and makes it the ambient deadline of `future`
/// wherever `future` runs: the opt-in for work handed to `tokio::spawn`.
///
/// The ambient deadline belongs to a task. `tokio::spawn(work)` starts a new task without it,
/// so inside `work` [`Deadline::current`] is `None` and the spawned work runs unbounded
/// even though the request that started it has long given up. Wrap the work before
/// spawning it:
///
/// ```
/// use std::time::Duration;
/// use resilience_core::deadline::{self, Deadline};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let d = Deadline::after(Duration::from_secs(1));
/// deadline::scope(d, async move {
///     // Plain spawn: the deadline does not cross the task boundary.
///     let lost = tokio::spawn(async { Deadline::current() }).await.unwrap();
///     assert_eq!(lost, None);
///
///     // `propagate` captures the deadline here and re-scopes it in the new task.
///     let kept = tokio::spawn(deadline::propagate(async { Deadline::current() }));
///     assert_eq!(kept.await.unwrap(), Some(d));
/// })
/// .await;
/// # }
/// ```
///
/// The capture happens when `propagate` is called, in the task that calls it, not when the
/// returned future is first polled (by then it runs in another task). Outside any scope,
/// nothing is captured and `future` runs as it would unwrapped. Like [`scope`],
/// propagation only sets the deadline; wrap the work in [`enforce`](super::enforce) as
/// well (`propagate(enforce(work))`) to abandon it when the deadline passes. [`spawn`](super::spawn)
/// does both in one call.
pub fn propagate<F: Future>(future: F) -> Propagate<F> {
    Propagate {
        deadline: current(),
        future,
    }
}

pin_project! {
    /// The future returned by [`propagate`].
    #[must_use = "futures do nothing unless polled"]
    pub struct Propagate<F> {
        deadline: Option<Deadline>,
        #[pin]
        future: F,
    }
}

impl<F> Propagate<F> {
    /// The deadline captured when the future was created, if any.
    pub fn deadline(&self) -> Option<Deadline> {
        self.deadline
    }
}

impl<F: fmt::Debug> fmt::Debug for Propagate<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Propagate")
            .field("deadline", &self.deadline)
            .field("future", &self.future)
            .finish()
    }
}

impl<F: Future> Future for Propagate<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        match *this.deadline {
            None => this.future.poll(cx),
            Some(captured) => {
                // Polled in a scope of its own (a caller may still nest one): keep the earlier.
                let deadline = current().map_or(captured, |outer| outer.min(captured));
                let future = this.future;
                enter(deadline, || future.poll(cx))
            }
        }
    }
}
