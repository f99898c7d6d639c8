//! The protected path: read the body, claim the key, then run, replay or refuse.

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Request, Response, StatusCode};
use http_body::Body;
use resilience_core::idempotency::{Claim, IdempotencyStore, Record};
use resilience_core::{BoxError, Error, ErrorKind, Primitive};
use tokio::time::Sleep;
use tower_service::Service;

use super::Shared;
use super::config::{IDEMPOTENT_REPLAYED, StoredHeaders};
use super::fingerprint::{fingerprint, store_key};
use super::lease::{LeaseGuard, Stored};
use crate::body::{CappedRead, PrefixedBody, ReadEnd};

type Answer<B> = Result<Response<PrefixedBody<B>>, Error>;

/// An error of `kind` from this layer instance, with a sentence for the client.
pub(crate) fn rejection<St>(shared: &Shared<St>, kind: ErrorKind, detail: &'static str) -> Error {
    Error::new(kind)
        .with_detail(detail)
        .or_origin(Primitive::Idempotency, shared.config.name.clone())
}

pub(crate) async fn protected<S, St, ReqBody, ResBody>(
    shared: Arc<Shared<St>>,
    mut inner: S,
    request: Request<ReqBody>,
    key: Box<str>,
) -> Answer<ResBody>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    S::Error: Into<BoxError>,
    St: IdempotencyStore + 'static,
    ReqBody: Body + From<Bytes>,
    ReqBody::Error: Into<BoxError>,
    ResBody: Body<Data = Bytes> + Send + 'static,
    ResBody::Error: Into<BoxError>,
{
    let config = &shared.config;
    let (parts, body) = request.into_parts();
    let read = read_request(body, config.max_request_body, config.request_body_timeout);
    let body = match read.await {
        Ok(body) => body,
        Err(unread) => {
            shared.metrics.invalid.increment(1);
            let (kind, detail) = match unread {
                Unread::TooLarge => (
                    ErrorKind::PayloadTooLarge,
                    "The request body is larger than allowed.",
                ),
                Unread::TooSlow => (
                    ErrorKind::InvalidRequest,
                    "The request body did not arrive in time.",
                ),
                Unread::Failed => (
                    ErrorKind::InvalidRequest,
                    "The request body could not be read.",
                ),
            };
            return Err(rejection(&shared, kind, detail));
        }
    };
    let scope = config.scope.as_ref().and_then(|scope| scope(&parts));
    let fingerprint = fingerprint(&parts.method, &parts.uri, scope.as_deref(), &body);
    let key = store_key(&key, config.scope.is_some(), scope.as_deref());

    let lease = match shared
        .store
        .claim(&key, &fingerprint, config.lock_ttl)
        .await
    {
        Ok(Claim::Claimed(lease)) => lease,
        Ok(Claim::InFlight { .. }) => {
            shared.metrics.conflict.increment(1);
            return Err(rejection(
                &shared,
                ErrorKind::IdempotencyConflict,
                "A request with the same Idempotency-Key is still being processed.",
            )
            .with_retry_after(config.conflict_retry_after));
        }
        Ok(Claim::Completed(record)) => {
            tracing::debug!(name = %config.name, status = record.status(), "idempotency: replaying a stored response");
            let answer = replay(&shared, &record);
            match answer {
                Ok(_) => shared.metrics.replayed.increment(1),
                Err(_) => shared.metrics.store_error.increment(1),
            }
            return answer;
        }
        Ok(Claim::Unrecorded) => {
            shared.metrics.conflict.increment(1);
            return Err(rejection(
                &shared,
                ErrorKind::IdempotencyConflict,
                "A request with this Idempotency-Key was already processed, but its response \
                 was not kept and cannot be replayed.",
            )
            .with_field("key_state", "completed_unrecorded"));
        }
        Ok(Claim::Mismatch) => {
            shared.metrics.mismatch.increment(1);
            return Err(rejection(
                &shared,
                ErrorKind::IdempotencyMismatch,
                "This Idempotency-Key was already used with a different request.",
            ));
        }
        Ok(_) => {
            // A claim outcome added to the store trait after this layer was written.
            shared.metrics.store_error.increment(1);
            return Err(rejection(
                &shared,
                ErrorKind::StoreUnavailable,
                "The idempotency store gave an answer this layer does not understand.",
            ));
        }
        Err(err) if err.kind() == ErrorKind::IdempotencyConflict => {
            // The store could not claim the key but knows it is (or was just) held: a
            // 409 with the store's `Retry-After`, never a run without protection.
            shared.metrics.conflict.increment(1);
            return Err(err.or_origin(Primitive::Idempotency, config.name.clone()));
        }
        Err(err) => {
            shared.metrics.store_error.increment(1);
            let err = err.or_origin(Primitive::Idempotency, config.name.clone());
            if !config.fail_open {
                return Err(err);
            }
            tracing::warn!(
                name = %config.name,
                error = %err,
                "idempotency store failed; running the request unprotected (fail-open)",
            );
            let request = Request::from_parts(parts, ReqBody::from(body));
            return match inner.call(request).await {
                Ok(response) => Ok(response.map(PrefixedBody::new)),
                Err(err) => Err(Error::wrap(err)),
            };
        }
    };

    shared.metrics.new.increment(1);
    let mut guard = LeaseGuard::new(Arc::clone(&shared), lease);
    let request = Request::from_parts(parts, ReqBody::from(body));
    let response = match inner.call(request).await.map_err(Error::wrap) {
        Ok(response) => response,
        Err(err) => {
            guard.release("the handler failed").await;
            return Err(err);
        }
    };
    let status = response.status();
    if status.is_server_error()
        || status == StatusCode::REQUEST_TIMEOUT
        || status == StatusCode::TOO_MANY_REQUESTS
    {
        guard.release("the response says to try again").await;
        return Ok(response.map(PrefixedBody::new));
    }
    let (parts, body) = response.into_parts();
    if body.size_hint().lower() > config.max_response_body as u64 {
        guard
            .release("the response body is over max_response_body")
            .await;
        return Ok(Response::from_parts(parts, PrefixedBody::new(body)));
    }
    let headers = stored_headers(&parts.headers, &config.stored_headers);
    let body = match guard.store(status.as_u16(), headers, body).await {
        Ok(Stored::Whole(bytes)) => PrefixedBody::held(bytes, None),
        Ok(Stored::Partial {
            head,
            trailers: Some(trailers),
            ..
        }) => PrefixedBody::held(head, Some(trailers)),
        Ok(Stored::Partial { head, rest, .. }) => PrefixedBody::prefixed_boxed(head, rest),
        Err(err) => return Err(Error::wrap(err)),
    };
    Ok(Response::from_parts(parts, body))
}

/// The stored response, marked `Idempotent-Replayed: true`.
fn replay<St, B>(shared: &Shared<St>, record: &Record) -> Answer<B> {
    let Ok(status) = StatusCode::from_u16(record.status()) else {
        return Err(rejection(
            shared,
            ErrorKind::StoreUnavailable,
            "The stored response for this Idempotency-Key is unreadable.",
        ));
    };
    let mut response = Response::new(PrefixedBody::held(record.body().clone(), None));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    for (name, value) in record.headers() {
        match (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_maybe_shared(value.clone()),
        ) {
            (Ok(name), Ok(value)) => {
                headers.append(name, value);
            }
            _ => {
                tracing::warn!(
                    name = %shared.config.name,
                    header = %name,
                    "idempotency: skipping an invalid stored header",
                );
            }
        }
    }
    headers.insert(IDEMPOTENT_REPLAYED, HeaderValue::from_static("true"));
    Ok(response)
}

fn stored_headers(headers: &HeaderMap, rule: &StoredHeaders) -> Vec<(Box<str>, Bytes)> {
    headers
        .iter()
        .filter(|(name, _)| rule.stores(name))
        .map(|(name, value)| {
            (
                name.as_str().into(),
                Bytes::copy_from_slice(value.as_bytes()),
            )
        })
        .collect()
}

/// Why a request body was not read.
enum Unread {
    TooLarge,
    TooSlow,
    Failed,
}

/// The whole request body, unless it is over `cap`, has not arrived within `limit`, or
/// failed. Trailers are dropped. The timer is armed only if the body has to be waited
/// for.
async fn read_request<B>(body: B, cap: usize, limit: Duration) -> Result<Bytes, Unread>
where
    B: Body,
    B::Error: Into<BoxError>,
{
    if body.size_hint().lower() > cap as u64 {
        return Err(Unread::TooLarge);
    }
    let mut body = pin!(body);
    let mut read = CappedRead::new(cap);
    let mut timer = pin!(None::<Sleep>);
    let end = std::future::poll_fn(|cx| {
        if let Poll::Ready(end) = read.poll_read(body.as_mut(), cx) {
            return Poll::Ready(Some(end));
        }
        if timer.is_none() {
            timer.set(Some(tokio::time::sleep(limit)));
        }
        match timer.as_mut().as_pin_mut().map(|sleep| sleep.poll(cx)) {
            Some(Poll::Ready(())) => Poll::Ready(None),
            _ => Poll::Pending,
        }
    })
    .await;
    match end {
        Some(ReadEnd::Whole | ReadEnd::Trailers(_)) => Ok(read.into_bytes()),
        Some(ReadEnd::OverCap) => Err(Unread::TooLarge),
        Some(ReadEnd::Failed(_)) => Err(Unread::Failed),
        None => Err(Unread::TooSlow),
    }
}
