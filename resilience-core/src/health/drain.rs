//! Shutdown: readiness fails first, then requests drain within a deadline.

use std::future::{Future, IntoFuture};

use super::lifecycle::shutting_down;
use super::{Health, InFlight, Phase};
use crate::{Error, ErrorKind, Primitive};

impl Health {
    /// Begins shutdown now: readiness fails from here on ([`Phase::Stopping`]), and every
    /// [`shutdown_signal`](Self::shutdown_signal) future resolves after the shutdown
    /// delay. Requests are still served until draining begins. Calling it again changes
    /// nothing.
    pub fn shutdown(&self) {
        if self.shared.lifecycle.advance(Phase::Stopping, |_| true) {
            tracing::info!(
                shutdown_delay = ?self.shared.shutdown_delay,
                "shutdown began: readiness fails"
            );
        }
    }

    /// A future for `axum::serve(..).with_graceful_shutdown(..)` (or tonic's
    /// `serve_with_shutdown`): when `signal` completes (or [`shutdown`](Self::shutdown) is
    /// called), it fails readiness, waits the shutdown delay so that load balancers stop
    /// routing here, then begins draining ([`Phase::Draining`]: [`enter`](Self::enter)
    /// refuses new requests) and resolves, so the server stops accepting connections and
    /// finishes the requests it has.
    pub fn shutdown_signal<F>(&self, signal: F) -> impl Future<Output = ()> + use<F>
    where
        F: Future,
    {
        let health = self.clone();
        async move {
            tokio::select! {
                _ = signal => health.shutdown(),
                () = health.shared.lifecycle.reached(Phase::Stopping) => {}
            }
            tokio::time::sleep(health.shared.shutdown_delay).await;
            health.start_draining();
        }
    }

    /// Runs `server` (such as `axum::serve(..).with_graceful_shutdown(health.shutdown_signal(..))`)
    /// and bounds its graceful shutdown: once draining has begun, the server and the
    /// requests counted by [`enter`](Self::enter) get the
    /// [drain timeout](super::HealthBuilder::drain_timeout) to finish. A server that ends
    /// by itself before draining gives its output at once.
    ///
    /// # Errors
    ///
    /// [`DeadlineExceeded`](ErrorKind::DeadlineExceeded) when the drain timeout passed
    /// first, with field `in_flight` (requests still counted). The server future is
    /// dropped then; connections it spawned end when the runtime does, so return from
    /// `main`.
    pub fn drain<F>(&self, server: F) -> impl Future<Output = Result<F::Output, Error>> + use<F>
    where
        F: IntoFuture,
    {
        let health = self.clone();
        let server = server.into_future();
        async move {
            let lifecycle = &health.shared.lifecycle;
            tokio::pin!(server);
            if lifecycle.phase() < Phase::Draining {
                tokio::select! {
                    biased;
                    output = &mut server => return Ok(output),
                    () = lifecycle.reached(Phase::Draining) => {}
                }
            }
            let timeout = health.shared.drain_timeout;
            let finish = async {
                let output = (&mut server).await;
                lifecycle.drained().await;
                output
            };
            match tokio::time::timeout(timeout, finish).await {
                Ok(output) => {
                    tracing::info!("drained: every request finished");
                    Ok(output)
                }
                Err(_) => {
                    let in_flight = lifecycle.in_flight();
                    tracing::warn!(
                        in_flight,
                        ?timeout,
                        "drain timeout passed with requests in flight"
                    );
                    Err(Error::new(ErrorKind::DeadlineExceeded)
                        .during_call()
                        .with_primitive(Primitive::Health)
                        .with_operation("drain")
                        .with_elapsed(timeout)
                        .with_detail("requests were still in flight at the drain timeout")
                        .with_field("in_flight", in_flight))
                }
            }
        }
    }

    /// Counts a request in flight until the returned guard is dropped, or refuses it with
    /// [`ShuttingDown`](ErrorKind::ShuttingDown) (a rejection) once draining has begun.
    /// The `DrainLayer` of `resilience_tower::health` calls it for every request.
    ///
    /// # Errors
    ///
    /// `ShuttingDown` while draining.
    #[inline]
    pub fn enter(&self) -> Result<InFlight, Error> {
        if self.shared.lifecycle.enter() {
            Ok(InFlight::new(self.clone()))
        } else {
            Err(shutting_down())
        }
    }

    /// Requests counted in flight now.
    pub fn in_flight(&self) -> usize {
        self.shared.lifecycle.in_flight()
    }

    fn start_draining(&self) {
        let lifecycle = &self.shared.lifecycle;
        // Refuse first, so that a caller seeing `Draining` can rely on refusals.
        lifecycle.start_draining();
        if lifecycle.advance(Phase::Draining, |_| true) {
            tracing::info!(
                in_flight = lifecycle.in_flight(),
                drain_timeout = ?self.shared.drain_timeout,
                "draining: new requests are refused"
            );
        }
    }
}
