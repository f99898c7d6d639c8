//! Bodies the layers hand on: [`PrefixedBody`], and the capped reader behind it.
//!
//! Three layers hold bytes of a body: the HTTP retry layer keeps a request body to send it
//! again, the idempotency layer stores a response to replay it, the error layer answers
//! with a problem+json body. Each of them also lets a body it does not hold stream
//! through — untouched, or after the part it read before giving up on holding it (a body
//! over the cap). One type covers all of it, and one reader reads up to a cap.

use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::{Buf, Bytes, BytesMut};
use http::HeaderMap;
use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;
use resilience_core::BoxError;

pin_project! {
    /// A body made of bytes a layer holds (possibly none), followed by the rest of
    /// another body (possibly none): the inner service's body passed through untouched,
    /// a buffered body sent again or replayed (with its trailers), a problem+json answer,
    /// or the part of a body read before the layer gave up holding it, then the rest.
    #[derive(Debug)]
    pub struct PrefixedBody<B> {
        head: Option<Bytes>,
        trailers: Option<HeaderMap>,
        #[pin]
        rest: Rest<B>,
    }
}

pin_project! {
    #[project = RestProj]
    #[derive(Debug)]
    enum Rest<B> {
        Body { #[pin] body: B },
        Boxed { body: Pin<Box<B>> },
        End,
    }
}

fn non_empty(bytes: Bytes) -> Option<Bytes> {
    (!bytes.is_empty()).then_some(bytes)
}

impl<B> PrefixedBody<B> {
    /// `body`, passed through untouched.
    pub(crate) fn new(body: B) -> Self {
        Self {
            head: None,
            trailers: None,
            rest: Rest::Body { body },
        }
    }

    /// Held bytes only: `data`, then `trailers`.
    pub(crate) fn held(data: Bytes, trailers: Option<HeaderMap>) -> Self {
        Self {
            head: non_empty(data),
            trailers,
            rest: Rest::End,
        }
    }

    /// `head` (already read), then the rest of `body`.
    pub(crate) fn prefixed(head: Bytes, body: B) -> Self {
        Self {
            head: non_empty(head),
            trailers: None,
            rest: Rest::Body { body },
        }
    }

    /// `head` (already read), then the rest of a body pinned in a box (read from, then
    /// moved, by the idempotency layer).
    pub(crate) fn prefixed_boxed(head: Bytes, body: Pin<Box<B>>) -> Self {
        Self {
            head: non_empty(head),
            trailers: None,
            rest: Rest::Boxed { body },
        }
    }

    /// `true` if the layer holds the whole body (buffered or built by the layer), `false`
    /// if some of it streams from another body.
    pub fn is_held(&self) -> bool {
        matches!(self.rest, Rest::End)
    }
}

impl<B> Body for PrefixedBody<B>
where
    B: Body<Data = Bytes>,
{
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        let this = self.project();
        if let Some(head) = this.head.take() {
            return Poll::Ready(Some(Ok(Frame::data(head))));
        }
        match this.rest.project() {
            RestProj::Body { body } => body.poll_frame(cx),
            RestProj::Boxed { body } => body.as_mut().poll_frame(cx),
            RestProj::End => Poll::Ready(this.trailers.take().map(|t| Ok(Frame::trailers(t)))),
        }
    }

    fn is_end_stream(&self) -> bool {
        self.head.is_none()
            && match &self.rest {
                Rest::Body { body } => body.is_end_stream(),
                Rest::Boxed { body } => body.is_end_stream(),
                Rest::End => self.trailers.is_none(),
            }
    }

    fn size_hint(&self) -> SizeHint {
        let head = self.head.as_ref().map_or(0, |h| h.len() as u64);
        let rest = match &self.rest {
            Rest::Body { body } => body.size_hint(),
            Rest::Boxed { body } => body.size_hint(),
            Rest::End => return SizeHint::with_exact(head),
        };
        let mut hint = SizeHint::new();
        hint.set_lower(rest.lower().saturating_add(head));
        if let Some(upper) = rest.upper() {
            hint.set_upper(upper.saturating_add(head));
        }
        hint
    }
}

/// How many frames [`CappedRead::poll_read`] reads before it yields.
const FRAMES_PER_POLL: usize = 64;

/// Reads a body into memory, up to a cap. Cancel-safe: what was read stays in the reader,
/// so it can be polled again later, or given up and sent on as a prefix.
#[derive(Debug)]
pub(crate) struct CappedRead {
    cap: usize,
    first: Option<Bytes>,
    more: BytesMut,
}

/// How a [`CappedRead`] ended.
#[derive(Debug)]
pub(crate) enum ReadEnd {
    /// The body ended, within the cap.
    Whole,
    /// The body ended with trailers, within the cap.
    Trailers(HeaderMap),
    /// The body passed the cap; what was read (the chunk that passed it included) is
    /// held, the rest is still in the body.
    OverCap,
    /// The body failed.
    Failed(BoxError),
}

impl CappedRead {
    pub(crate) fn new(cap: usize) -> Self {
        Self {
            cap,
            first: None,
            more: BytesMut::new(),
        }
    }

    /// The cap.
    pub(crate) fn cap(&self) -> usize {
        self.cap
    }

    /// Bytes read so far.
    pub(crate) fn len(&self) -> usize {
        self.first.as_ref().map_or(0, Bytes::len) + self.more.len()
    }

    /// Reads frames from `body` until it ends, sends trailers, passes the cap or fails.
    pub(crate) fn poll_read<B>(
        &mut self,
        mut body: Pin<&mut B>,
        cx: &mut Context<'_>,
    ) -> Poll<ReadEnd>
    where
        B: Body,
        B::Error: Into<BoxError>,
    {
        // A body whose frames are always ready (many tiny chunks) is read a bounded
        // number of frames per poll, so that reading it never starves the other tasks of
        // its thread: past that, it asks to be polled again and yields.
        for _ in 0..FRAMES_PER_POLL {
            let frame = match ready!(body.as_mut().poll_frame(cx)) {
                None => return Poll::Ready(ReadEnd::Whole),
                Some(Err(err)) => return Poll::Ready(ReadEnd::Failed(err.into())),
                Some(Ok(frame)) => frame,
            };
            match frame.into_data() {
                Ok(mut data) => {
                    self.push(data.copy_to_bytes(data.remaining()));
                    if self.len() > self.cap {
                        return Poll::Ready(ReadEnd::OverCap);
                    }
                }
                Err(frame) => {
                    if let Ok(trailers) = frame.into_trailers() {
                        return Poll::Ready(ReadEnd::Trailers(trailers));
                    }
                }
            }
        }
        cx.waker().wake_by_ref();
        Poll::Pending
    }

    /// Keeps one chunk; chunks are joined only if there is more than one.
    fn push(&mut self, chunk: Bytes) {
        if chunk.is_empty() {
            return;
        }
        if self.first.is_none() && self.more.is_empty() {
            self.first = Some(chunk);
            return;
        }
        if let Some(first) = self.first.take() {
            self.more.reserve(first.len() + chunk.len());
            self.more.extend_from_slice(&first);
        }
        self.more.extend_from_slice(&chunk);
    }

    /// What was read, as one buffer.
    pub(crate) fn into_bytes(self) -> Bytes {
        self.first.unwrap_or_else(|| self.more.freeze())
    }
}
