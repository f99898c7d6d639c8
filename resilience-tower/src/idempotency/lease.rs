//! [`LeaseGuard`]: the claimed key, handed back on every path, including a dropped request.
//!
//! Once the handler has answered, its side effects have happened: the response must be
//! stored (or the key released, if the response is not storable) whether or not anyone is
//! still waiting for it. So when the request is dropped while the response body is read,
//! while the record is stored or while the key is released, the guard finishes that work
//! in a spawned task, bounded by the lock TTL (after which the store refuses the lease
//! anyway). Dropped while the handler itself runs, it releases the key or holds it as
//! [`release_on_cancel`](super::IdempotencyLayerBuilder::release_on_cancel) says.

use std::pin::Pin;
use std::sync::Arc;

use bytes::Bytes;
use http::HeaderMap;
use http_body::Body;
use resilience_core::BoxError;
use resilience_core::idempotency::{Commit, IdempotencyStore, Lease, Record};

use super::Shared;
use crate::body::{CappedRead, ReadEnd};

/// The response being read after the handler answered.
struct Reading<B> {
    status: u16,
    headers: Vec<(Box<str>, Bytes)>,
    body: Pin<Box<B>>,
    read: CappedRead,
}

/// What reading the response body gave.
pub(super) enum Stored<B> {
    /// The whole body, within the cap: stored (unless the store refused) and sent as is.
    Whole(Bytes),
    /// Not stored: `head` was read before the cap was passed or trailers arrived; the
    /// rest is still in `rest`.
    Partial {
        head: Bytes,
        trailers: Option<HeaderMap>,
        rest: Pin<Box<B>>,
    },
}

/// Holds the lease of one protected request until it is completed or released.
pub(super) struct LeaseGuard<St, B>
where
    St: IdempotencyStore + 'static,
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    shared: Arc<Shared<St>>,
    /// `None` once the store has answered a `complete` or `release`.
    lease: Option<Lease>,
    /// Set while a release is under way.
    releasing: Option<&'static str>,
    /// Set while the response body is read.
    reading: Option<Reading<B>>,
    /// Set while the record is stored.
    record: Option<Record>,
    /// This guard is already the spawned continuation of a dropped request.
    detached: bool,
}

impl<St, B> LeaseGuard<St, B>
where
    St: IdempotencyStore + 'static,
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    pub(super) fn new(shared: Arc<Shared<St>>, lease: Lease) -> Self {
        Self {
            shared,
            lease: Some(lease),
            releasing: None,
            reading: None,
            record: None,
            detached: false,
        }
    }

    /// Frees the key without storing anything.
    pub(super) async fn release(&mut self, why: &'static str) {
        let Some(lease) = self.lease.clone() else {
            return;
        };
        self.releasing = Some(why);
        let name = &self.shared.config.name;
        tracing::debug!(name = %name, reason = why, "idempotency: response not stored; key released");
        let result = self.shared.store.release(lease).await;
        self.lease = None;
        match result {
            Ok(Commit::Done | Commit::Unrecorded) => {}
            Ok(Commit::Stale) => {
                tracing::debug!(name = %name, "idempotency: lease had already expired");
            }
            Err(err) => tracing::warn!(
                name = %name,
                error = %err,
                "idempotency: releasing a key failed; it stays locked until the lock TTL",
            ),
        }
    }

    /// Reads the response body (up to `max_response_body`) and stores it with `status`
    /// and `headers`; releases the key if it is over the cap, has trailers or fails.
    pub(super) async fn store(
        &mut self,
        status: u16,
        headers: Vec<(Box<str>, Bytes)>,
        body: B,
    ) -> Result<Stored<B>, BoxError> {
        self.reading = Some(Reading {
            status,
            headers,
            body: Box::pin(body),
            read: CappedRead::new(self.shared.config.max_response_body),
        });
        self.read_and_store().await
    }

    async fn read_and_store(&mut self) -> Result<Stored<B>, BoxError> {
        // Cancel-safe: what was read stays in `reading`.
        let end = match self.reading.as_mut() {
            Some(reading) => {
                std::future::poll_fn(|cx| reading.read.poll_read(reading.body.as_mut(), cx)).await
            }
            None => ReadEnd::Failed("no response body to read".into()),
        };
        let Some(reading) = self.reading.take() else {
            return Err("no response body to read".into());
        };
        let (why, trailers) = match end {
            ReadEnd::Whole => {
                let bytes = reading.read.into_bytes();
                self.record = Some(Record::new(reading.status, reading.headers, bytes.clone()));
                self.complete().await;
                return Ok(Stored::Whole(bytes));
            }
            ReadEnd::Failed(err) => {
                self.release("the response body failed").await;
                return Err(err);
            }
            ReadEnd::OverCap => ("the response body is over max_response_body", None),
            ReadEnd::Trailers(trailers) => (
                "the response has trailers, which are not stored",
                Some(trailers),
            ),
        };
        self.release(why).await;
        Ok(Stored::Partial {
            head: reading.read.into_bytes(),
            trailers,
            rest: reading.body,
        })
    }

    async fn complete(&mut self) {
        let (Some(lease), Some(record)) = (self.lease.clone(), self.record.clone()) else {
            return;
        };
        let config = &self.shared.config;
        let result = self
            .shared
            .store
            .complete(lease, record, config.record_ttl)
            .await;
        self.lease = None;
        self.record = None;
        match result {
            Ok(Commit::Done) => {}
            Ok(Commit::Stale) => tracing::warn!(
                name = %config.name,
                lock_ttl = ?config.lock_ttl,
                "idempotency: the handler outlived its lease; response sent but not stored",
            ),
            Ok(Commit::Unrecorded) => tracing::warn!(
                name = %config.name,
                "idempotency: the store had no room for the response; response sent, key kept \
                 as completed without it (duplicates get 409)",
            ),
            Err(err) => tracing::warn!(
                name = %config.name,
                error = %err,
                "idempotency: storing the response failed; response sent but not stored",
            ),
        }
    }

    /// The spawned continuation of a dropped request: finishes what it was doing.
    async fn resume(mut self) {
        if let Some(why) = self.releasing {
            self.release(why).await;
        } else if self.record.is_some() {
            self.complete().await;
        } else {
            // Reading the body: store it, or release the key; nobody wants the rest.
            let _ = self.read_and_store().await;
        }
    }
}

impl<St, B> Drop for LeaseGuard<St, B>
where
    St: IdempotencyStore + 'static,
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    fn drop(&mut self) {
        let Some(lease) = self.lease.take() else {
            return;
        };
        let config = &self.shared.config;
        let handler_running =
            self.releasing.is_none() && self.reading.is_none() && self.record.is_none();
        if handler_running && !config.release_on_cancel {
            tracing::debug!(name = %config.name, "idempotency: request cancelled; key held until the lock TTL");
            return;
        }
        if self.detached {
            tracing::warn!(name = %config.name, "idempotency: gave up finishing a dropped request; key held until the lock TTL");
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            tracing::warn!(
                name = %config.name,
                "idempotency: request dropped outside a tokio runtime; key held until the lock TTL",
            );
            return;
        };
        tracing::debug!(name = %config.name, "idempotency: request dropped; finishing its key in a task");
        let rest = Self {
            shared: Arc::clone(&self.shared),
            lease: Some(lease),
            releasing: self
                .releasing
                .or(handler_running.then_some("the request was cancelled")),
            reading: self.reading.take(),
            record: self.record.take(),
            detached: true,
        };
        let limit = config.lock_ttl;
        runtime.spawn(async move {
            let _ = tokio::time::timeout(limit, rest.resume()).await;
        });
    }
}
