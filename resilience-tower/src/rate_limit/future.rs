use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use pin_project_lite::pin_project;
use resilience_core::rate_limit::Guarded;
use resilience_core::{BoxError, Error};
use tower_service::Service;

use super::stamp::Stamp;
use crate::bulkhead::Deferred;

pin_project! {
    /// Response future of [`RateLimitService`](super::RateLimitService).
    ///
    /// A request the limiter admitted at once (or exempted) is the inner service's future
    /// and what the response's stamp needs of the grant (nothing without headers); a
    /// refused one is its error; one that waits for its turn is the core rate limit's
    /// [`Guarded`] call around the kept service and request, boxed (a wait allocates
    /// anyway), so that the common case stays as small as the inner future. Either way
    /// the outcome is `Result<_, Error>` and the response is stamped as the layer was told
    /// to.
    #[must_use = "futures do nothing unless polled"]
    pub struct ResponseFuture<S, Req, H>
    where
        S: Service<Req>,
        S::Error: Into<BoxError>,
        H: Stamp<S::Response>,
    {
        #[pin]
        kind: Kind<S, Req, H::Kept>,
        stamp: H,
    }
}

pin_project! {
    #[project = KindProj]
    enum Kind<S, Req, K>
    where
        S: Service<Req>,
        S::Error: Into<BoxError>,
    {
        Admitted {
            #[pin]
            future: S::Future,
            kept: K,
        },
        Refused {
            error: Option<Error>,
        },
        Waiting {
            guarded: Pin<Box<Guarded<Deferred<S, Req>>>>,
        },
    }
}

impl<S, Req, H> ResponseFuture<S, Req, H>
where
    S: Service<Req>,
    S::Error: Into<BoxError>,
    H: Stamp<S::Response>,
{
    /// Admitted: `future` is the inner service's, already called; `kept` is what the
    /// stamp needs of the grant.
    #[inline(always)]
    pub(crate) fn admitted(future: S::Future, kept: H::Kept, stamp: H) -> Self {
        Self {
            kind: Kind::Admitted { future, kept },
            stamp,
        }
    }

    /// Refused with `error`; the inner service was not called.
    pub(crate) fn refused(error: Error, stamp: H) -> Self {
        Self {
            kind: Kind::Refused { error: Some(error) },
            stamp,
        }
    }

    /// Waiting for its turn: the core's guarded call.
    pub(crate) fn waiting(guarded: Guarded<Deferred<S, Req>>, stamp: H) -> Self {
        Self {
            kind: Kind::Waiting {
                guarded: Box::pin(guarded),
            },
            stamp,
        }
    }
}

impl<S, Req, H> Future for ResponseFuture<S, Req, H>
where
    S: Service<Req>,
    S::Error: Into<BoxError>,
    H: Stamp<S::Response>,
{
    type Output = Result<S::Response, Error>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        match this.kind.project() {
            KindProj::Admitted { future, kept } => {
                let mut response = ready!(future.poll(cx)).map_err(Error::wrap)?;
                this.stamp.stamp(kept, &mut response);
                Poll::Ready(Ok(response))
            }
            KindProj::Refused { error } => {
                let error = error
                    .take()
                    .expect("`ResponseFuture` polled after completion");
                Poll::Ready(Err(error))
            }
            KindProj::Waiting { guarded } => {
                let outcome = ready!(guarded.as_mut().poll(cx));
                let mut response = outcome.and_then(|result| result)?;
                if let Some(grant) = guarded.grant() {
                    this.stamp.stamp(&H::keep(grant), &mut response);
                }
                Poll::Ready(Ok(response))
            }
        }
    }
}

impl<S, Req, H> fmt::Debug for ResponseFuture<S, Req, H>
where
    S: Service<Req>,
    S::Error: Into<BoxError>,
    H: Stamp<S::Response>,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut debug = f.debug_struct("ResponseFuture");
        match &self.kind {
            Kind::Admitted { kept, .. } => debug.field("admitted", kept),
            Kind::Refused { error } => debug.field("refused", error),
            Kind::Waiting { guarded } => debug.field("waiting", guarded),
        };
        debug.finish_non_exhaustive()
    }
}
