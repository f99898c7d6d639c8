//! The protected path: read the body, claim the key, then run, replay or refuse.

use std::pin::{Pin, pin};
use std::sync::Arc;

use bytes::{Buf, Bytes, BytesMut};
use http::{HeaderMap, HeaderName, HeaderValue, Request, Response, StatusCode};
use http_body::Body;
use http_body_util::BodyExt;
use resilience_core::idempotency::{Claim, Commit, IdempotencyStore, Lease, Record};
use resilience_core::{BoxError, Error, ErrorKind, Primitive};
use tower_service::Service;

use super::config::IDEMPOTENT_REPLAYED;
use super::fingerprint::{fingerprint, store_key};
use super::{IdempotencyBody, Shared};

type Answer<B> = Result<Response<IdempotencyBody<B>>, Error>;

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
    ResBody: Body<Data = Bytes>,
    ResBody::Error: Into<BoxError>,
{
    let config = &shared.config;
    let (parts, body) = request.into_parts();
    let body = match read_request(body, config.max_request_body).await {
        Ok(body) => body,
        Err(kind) => {
            shared.metrics.invalid.increment(1);
            let detail = match kind {
                ErrorKind::PayloadTooLarge => "The request body is larger than allowed.",
                _ => "The request body could not be read.",
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
            shared.metrics.replayed.increment(1);
            tracing::debug!(name = %config.name, status = record.status(), "idempotency: replaying a stored response");
            return replay(&shared, &record);
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
                Ok(response) => Ok(response.map(IdempotencyBody::inner)),
                Err(err) => Err(Error::inner(err)),
            };
        }
    };

    shared.metrics.new.increment(1);
    let mut guard = LeaseGuard {
        shared: Arc::clone(&shared),
        lease: Some(lease),
    };
    let request = Request::from_parts(parts, ReqBody::from(body));
    let response = match inner.call(request).await.map_err(Error::inner) {
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
        return Ok(response.map(IdempotencyBody::inner));
    }
    let (parts, body) = response.into_parts();
    if body.size_hint().lower() > config.max_response_body as u64 {
        guard
            .release("the response body is over max_response_body")
            .await;
        return Ok(Response::from_parts(parts, IdempotencyBody::inner(body)));
    }
    let mut body = Box::pin(body);
    match read_response(&mut body, config.max_response_body).await {
        Err(err) => {
            let err = Error::inner(err);
            guard.release("the response body failed").await;
            Err(err)
        }
        Ok(Buffered::Partial { head, trailers }) => {
            let why = if trailers.is_some() {
                "the response has trailers, which are not stored"
            } else {
                "the response body is over max_response_body"
            };
            guard.release(why).await;
            Ok(Response::from_parts(
                parts,
                IdempotencyBody::resumed(head, trailers, body),
            ))
        }
        Ok(Buffered::Complete(bytes)) => {
            let record = Record::new(
                status.as_u16(),
                stored_headers(&parts.headers, &config.stored_headers),
                bytes.clone(),
            );
            guard.complete(record).await;
            Ok(Response::from_parts(parts, IdempotencyBody::bytes(bytes)))
        }
    }
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
    let mut response = Response::new(IdempotencyBody::bytes(record.body().clone()));
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

fn stored_headers(headers: &HeaderMap, names: &[HeaderName]) -> Vec<(Box<str>, Bytes)> {
    let mut out = Vec::new();
    for name in names {
        for value in headers.get_all(name) {
            out.push((
                name.as_str().into(),
                Bytes::copy_from_slice(value.as_bytes()),
            ));
        }
    }
    out
}

/// The whole request body, or `PayloadTooLarge` past `cap`, or `InvalidRequest` if it
/// fails to arrive. Trailers are dropped.
async fn read_request<B>(body: B, cap: usize) -> Result<Bytes, ErrorKind>
where
    B: Body,
    B::Error: Into<BoxError>,
{
    if body.size_hint().lower() > cap as u64 {
        return Err(ErrorKind::PayloadTooLarge);
    }
    let mut body = pin!(body);
    let mut first: Option<Bytes> = None;
    let mut more = BytesMut::new();
    let mut len = 0usize;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|_| ErrorKind::InvalidRequest)?;
        let Ok(mut data) = frame.into_data() else {
            continue;
        };
        len = len.saturating_add(data.remaining());
        if len > cap {
            return Err(ErrorKind::PayloadTooLarge);
        }
        let chunk = data.copy_to_bytes(data.remaining());
        match first.take() {
            None if more.is_empty() => first = Some(chunk),
            held => {
                if let Some(held) = held {
                    more.extend_from_slice(&held);
                }
                more.extend_from_slice(&chunk);
            }
        }
    }
    Ok(first.unwrap_or_else(|| more.freeze()))
}

enum Buffered {
    /// The whole body, within the cap.
    Complete(Bytes),
    /// What was read before the cap was passed or trailers arrived.
    Partial {
        head: Bytes,
        trailers: Option<HeaderMap>,
    },
}

async fn read_response<B>(body: &mut Pin<Box<B>>, cap: usize) -> Result<Buffered, BoxError>
where
    B: Body<Data = Bytes>,
    B::Error: Into<BoxError>,
{
    let mut buf = BytesMut::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(Into::into)?;
        match frame.into_data() {
            Ok(data) => {
                if buf.is_empty() && data.len() > cap {
                    return Ok(Buffered::Partial {
                        head: data,
                        trailers: None,
                    });
                }
                buf.extend_from_slice(&data);
                if buf.len() > cap {
                    return Ok(Buffered::Partial {
                        head: buf.freeze(),
                        trailers: None,
                    });
                }
            }
            Err(frame) => {
                return Ok(Buffered::Partial {
                    head: buf.freeze(),
                    trailers: frame.into_trailers().ok(),
                });
            }
        }
    }
    Ok(Buffered::Complete(buf.freeze()))
}

/// Holds the lease while the handler runs; if the request is dropped before the lease
/// is handed back, releases it from a spawned task (see "Cancellation" in the module
/// docs).
struct LeaseGuard<St: IdempotencyStore + 'static> {
    shared: Arc<Shared<St>>,
    lease: Option<Lease>,
}

impl<St: IdempotencyStore + 'static> LeaseGuard<St> {
    async fn release(&mut self, why: &'static str) {
        let Some(lease) = self.lease.take() else {
            return;
        };
        let name = &self.shared.config.name;
        tracing::debug!(name = %name, reason = why, "idempotency: response not stored; key released");
        match self.shared.store.release(lease).await {
            Ok(Commit::Done) => {}
            Ok(Commit::Stale) => {
                tracing::debug!(name = %name, "idempotency: lease had already expired");
            }
            Err(err) => {
                tracing::warn!(
                    name = %name,
                    error = %err,
                    "idempotency: releasing a key failed; it stays locked until the lock TTL",
                );
            }
        }
    }

    async fn complete(&mut self, record: Record) {
        let Some(lease) = self.lease.take() else {
            return;
        };
        let config = &self.shared.config;
        match self
            .shared
            .store
            .complete(lease, record, config.record_ttl)
            .await
        {
            Ok(Commit::Done) => {}
            Ok(Commit::Stale) => tracing::warn!(
                name = %config.name,
                lock_ttl = ?config.lock_ttl,
                "idempotency: the handler outlived its lease; response sent but not stored",
            ),
            Err(err) => tracing::warn!(
                name = %config.name,
                error = %err,
                "idempotency: storing the response failed; response sent but not stored",
            ),
        }
    }
}

impl<St: IdempotencyStore + 'static> Drop for LeaseGuard<St> {
    fn drop(&mut self) {
        let Some(lease) = self.lease.take() else {
            return;
        };
        let name = &self.shared.config.name;
        if !self.shared.config.release_on_cancel {
            tracing::debug!(name = %name, "idempotency: request cancelled; key held until the lock TTL");
            return;
        }
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                let shared = Arc::clone(&self.shared);
                runtime.spawn(async move {
                    if let Err(err) = shared.store.release(lease).await {
                        tracing::warn!(name = %shared.config.name, error = %err, "idempotency: releasing a cancelled request's key failed");
                    }
                });
                tracing::debug!(name = %name, "idempotency: request cancelled; key released");
            }
            Err(_) => tracing::warn!(
                name = %name,
                "idempotency: request cancelled outside a tokio runtime; key held until the lock TTL",
            ),
        }
    }
}
