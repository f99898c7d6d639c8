//! gRPC without a protobuf compiler, for tests and examples with a real tonic server and
//! client: messages as raw bytes ([`RawCodec`]) and an answer whose status comes in the
//! trailers after a message ([`message_then_status`]).

use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Buf, BufMut, Bytes};
use http::{HeaderMap, HeaderValue};
use http_body::{Body, Frame};
use tonic::Status;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};

/// A tonic codec whose messages are raw bytes: what the layers see of a gRPC call anyway
/// (headers, frames, trailers), without generated code.
#[derive(Clone, Copy, Debug, Default)]
pub struct RawCodec;

impl Codec for RawCodec {
    type Encode = Bytes;
    type Decode = Bytes;
    type Encoder = RawCodec;
    type Decoder = RawCodec;

    fn encoder(&mut self) -> Self::Encoder {
        RawCodec
    }

    fn decoder(&mut self) -> Self::Decoder {
        RawCodec
    }
}

impl Encoder for RawCodec {
    type Item = Bytes;
    type Error = Status;

    fn encode(&mut self, item: Bytes, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        dst.put_slice(&item);
        Ok(())
    }
}

impl Decoder for RawCodec {
    type Item = Bytes;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Bytes>, Status> {
        Ok(Some(src.copy_to_bytes(src.remaining())))
    }
}

/// A gRPC answer with one `message`, then `grpc-status: code` and `grpc-message`
/// (percent-encoded by the caller) in the trailers, not a Trailers-Only answer: what a
/// server that fails after it started answering sends.
///
/// # Panics
///
/// When `message` is longer than `u32::MAX` bytes, or `grpc_message` is not a valid
/// header value.
pub fn message_then_status(
    message: &[u8],
    code: u8,
    grpc_message: &'static str,
) -> http::Response<tonic::body::Body> {
    let mut frame = vec![0_u8];
    let len = u32::try_from(message.len()).expect("a message under 4 GiB");
    frame.extend_from_slice(&len.to_be_bytes());
    frame.extend_from_slice(message);
    let mut trailers = HeaderMap::new();
    trailers.insert("grpc-status", HeaderValue::from(u16::from(code)));
    trailers.insert("grpc-message", HeaderValue::from_static(grpc_message));
    let body = ThenTrailers {
        data: Some(Bytes::from(frame)),
        trailers: Some(trailers),
    };
    let mut response = http::Response::new(tonic::body::Body::new(body));
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/grpc"),
    );
    response
}

/// One data frame, then trailers.
struct ThenTrailers {
    data: Option<Bytes>,
    trailers: Option<HeaderMap>,
}

impl Body for ThenTrailers {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        if let Some(data) = self.data.take() {
            return Poll::Ready(Some(Ok(Frame::data(data))));
        }
        Poll::Ready(self.trailers.take().map(|t| Ok(Frame::trailers(t))))
    }
}
