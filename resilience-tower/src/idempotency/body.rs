//! [`IdempotencyBody`]: the response body of [`IdempotencyService`](super::IdempotencyService).

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::HeaderMap;
use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;

pin_project! {
    /// The inner service's body, untouched (requests the layer does not protect, responses
    /// it does not store), or bytes the layer holds: a replayed or just-stored body, or
    /// the part of an over-cap body it read before giving up on storing it, followed by
    /// the rest.
    #[derive(Debug)]
    pub struct IdempotencyBody<B> {
        #[pin]
        kind: Kind<B>,
    }
}

pin_project! {
    #[project = KindProj]
    #[derive(Debug)]
    enum Kind<B> {
        Inner { #[pin] body: B },
        Bytes { data: Option<Bytes> },
        Resumed {
            head: Option<Bytes>,
            trailers: Option<HeaderMap>,
            ended: bool,
            rest: Pin<Box<B>>,
        },
    }
}

impl<B> IdempotencyBody<B> {
    pub(crate) fn inner(body: B) -> Self {
        Self {
            kind: Kind::Inner { body },
        }
    }

    pub(crate) fn bytes(data: Bytes) -> Self {
        let data = (!data.is_empty()).then_some(data);
        Self {
            kind: Kind::Bytes { data },
        }
    }

    /// `head` (already read), then `trailers` if the body ended with them, else the rest
    /// of `rest`.
    pub(crate) fn resumed(head: Bytes, trailers: Option<HeaderMap>, rest: Pin<Box<B>>) -> Self {
        Self {
            kind: Kind::Resumed {
                head: (!head.is_empty()).then_some(head),
                ended: trailers.is_some(),
                trailers,
                rest,
            },
        }
    }
}

impl<B> Body for IdempotencyBody<B>
where
    B: Body<Data = Bytes>,
{
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        match self.project().kind.project() {
            KindProj::Inner { body } => body.poll_frame(cx),
            KindProj::Bytes { data } => Poll::Ready(data.take().map(|d| Ok(Frame::data(d)))),
            KindProj::Resumed {
                head,
                trailers,
                ended,
                rest,
            } => {
                if let Some(head) = head.take() {
                    return Poll::Ready(Some(Ok(Frame::data(head))));
                }
                if let Some(trailers) = trailers.take() {
                    return Poll::Ready(Some(Ok(Frame::trailers(trailers))));
                }
                if *ended {
                    return Poll::Ready(None);
                }
                rest.as_mut().poll_frame(cx)
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        match &self.kind {
            Kind::Inner { body } => body.is_end_stream(),
            Kind::Bytes { data } => data.is_none(),
            Kind::Resumed {
                head,
                trailers,
                ended,
                rest,
            } => head.is_none() && trailers.is_none() && (*ended || rest.is_end_stream()),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.kind {
            Kind::Inner { body } => body.size_hint(),
            Kind::Bytes { data } => {
                SizeHint::with_exact(data.as_ref().map_or(0, |d| d.len() as u64))
            }
            Kind::Resumed {
                head, ended, rest, ..
            } => {
                let head = head.as_ref().map_or(0, |h| h.len() as u64);
                if *ended {
                    return SizeHint::with_exact(head);
                }
                let rest = rest.size_hint();
                let mut hint = SizeHint::new();
                hint.set_lower(rest.lower().saturating_add(head));
                if let Some(upper) = rest.upper() {
                    hint.set_upper(upper.saturating_add(head));
                }
                hint
            }
        }
    }
}
