//! Versioned wire messages and the length-prefixed framing they travel in, over any
//! `AsyncRead + AsyncWrite` (an in-memory pipe in tests, TLS between computers). A frame is a
//! 4-byte big-endian length and a postcard-encoded [`Frame`]; frames over [`MAX_FRAME`] are
//! refused before they are read, and a frame's memory grows only as its bytes arrive (a length
//! alone reserves nothing). The reading half notes when bytes last arrived, so a peer
//! that is busy sending one large frame is not taken for a silent one. Nothing here decides
//! policy: see `replica`.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use futures::{SinkExt, StreamExt};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_util::bytes::{Buf, BytesMut};
use tokio_util::codec::{Decoder, FramedRead, FramedWrite, LengthDelimitedCodec};

/// The protocol version this build speaks (2: several batches in flight, batches in parts,
/// and the puller's db_version in its pull). The hello keeps its layout across versions, so a
/// peer of another version is refused with a clear reason.
pub const PROTOCOL: u32 = 2;

/// The largest frame accepted (a change batch travels in parts well below this).
pub const MAX_FRAME: usize = 16 * 1024 * 1024;

/// What travels on the wire: versioned, so a newer peer's messages are refused clearly.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Frame {
    V1(Msg),
}

/// The messages (the variant name is historical: `Frame::V1` carries every protocol version,
/// and the hello says which one the peer speaks).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Msg {
    /// First message each way: who we are and what we speak.
    Hello {
        protocol: u32,
        schema: u32,
        site_id: Vec<u8>,
        /// The computer's name, shown in pairing prompts ("Front desk").
        name: String,
        /// The port it listens on (0 if it does not), so it can be dialled back.
        port: u16,
    },
    /// "Send me what you have after this db_version of yours" (the receiver's watermark), with
    /// the receiver's own db_version: a peer that has received more of the receiver's changes
    /// than that knows the receiver lost some (restored from an older copy) and sends them back.
    Pull { since: i64, db_version: i64 },
    /// A change batch (`crsql_export_changes`) ending at the sender's db_version `upto`, or one
    /// part of it: with `more`, further parts follow and the receiver merges nothing until the
    /// last part (all parts of a batch carry the same `upto`).
    Changes {
        #[serde(with = "bytes")]
        batch: Vec<u8>,
        upto: i64,
        more: bool,
    },
    /// Acknowledges the oldest unacknowledged `Changes` frame (whose `upto` it repeats): a
    /// part is held here; a last part or whole batch is merged and durable here.
    Ack { upto: i64 },
    /// Still here.
    Heartbeat,
    /// Closing, with the reason.
    Bye { reason: String },
}

/// A batch as one run of bytes, not a sequence of single bytes: the same bytes on the wire
/// (postcard writes both as a length and the bytes), copied at once instead of one by one.
mod bytes {
    use serde::de::{Deserializer, Error, SeqAccess, Visitor};
    use serde::Serializer;

    pub fn serialize<S: Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(v)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        d.deserialize_byte_buf(Bytes)
    }

    struct Bytes;

    impl<'de> Visitor<'de> for Bytes {
        type Value = Vec<u8>;

        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("bytes")
        }

        fn visit_bytes<E: Error>(self, v: &[u8]) -> Result<Vec<u8>, E> {
            Ok(v.to_vec())
        }

        fn visit_byte_buf<E: Error>(self, v: Vec<u8>) -> Result<Vec<u8>, E> {
            Ok(v)
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<u8>, A::Error> {
            let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1 << 20));
            while let Some(b) = seq.next_element()? {
                out.push(b);
            }
            Ok(out)
        }
    }
}

/// What can go wrong on the wire.
#[derive(Debug, thiserror::Error)]
pub enum ProtoError {
    #[error("connection failed: {0}")]
    Io(std::io::Error),
    #[error("frame larger than {MAX_FRAME} bytes refused")]
    Oversized,
    #[error("malformed frame: {0}")]
    Malformed(String),
    #[error("the connection closed")]
    Closed,
    #[error("the connection closed in the middle of a frame (truncated)")]
    Truncated,
}

impl From<std::io::Error> for ProtoError {
    fn from(e: std::io::Error) -> Self {
        if e.to_string().contains("bytes remaining on stream") {
            ProtoError::Truncated
        } else {
            ProtoError::Io(e)
        }
    }
}

/// Splits incoming bytes into frames without reserving room for a frame before its bytes
/// arrive (the read buffer grows as they do), so a peer that only sends a large length costs
/// nothing.
struct FrameDecoder;

const LENGTH: usize = 4;

impl Decoder for FrameDecoder {
    type Item = BytesMut;
    type Error = ProtoError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<BytesMut>, ProtoError> {
        let Some(head) = src.get(..LENGTH) else {
            return Ok(None);
        };
        let len = u32::from_be_bytes([head[0], head[1], head[2], head[3]]) as usize;
        if len > MAX_FRAME {
            return Err(ProtoError::Oversized);
        }
        if src.len() < LENGTH + len {
            return Ok(None);
        }
        src.advance(LENGTH);
        Ok(Some(src.split_to(len)))
    }
}

fn codec() -> LengthDelimitedCodec {
    LengthDelimitedCodec::builder()
        .length_field_length(4)
        .max_frame_length(MAX_FRAME)
        .new_codec()
}

/// A reading half that notes when bytes last arrived.
struct Watched<R> {
    inner: R,
    last: Instant,
}

impl<R: AsyncRead + Unpin> AsyncRead for Watched<R> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.last = Instant::now();
        }
        r
    }
}

/// The receiving half of a connection.
pub struct Reader<R> {
    inner: FramedRead<Watched<R>, FrameDecoder>,
}

/// The sending half of a connection.
pub struct Writer<W> {
    inner: FramedWrite<W, LengthDelimitedCodec>,
}

/// Splits a stream into framed halves.
pub fn split<T: AsyncRead + AsyncWrite>(
    io: T,
) -> (
    Reader<tokio::io::ReadHalf<T>>,
    Writer<tokio::io::WriteHalf<T>>,
) {
    let (r, w) = tokio::io::split(io);
    (
        Reader {
            inner: FramedRead::new(
                Watched {
                    inner: r,
                    last: Instant::now(),
                },
                FrameDecoder,
            ),
        },
        Writer {
            inner: FramedWrite::new(w, codec()),
        },
    )
}

impl<R> Reader<R> {
    /// How long since any byte arrived (part of a frame counts).
    pub fn idle(&self) -> Duration {
        self.inner.get_ref().last.elapsed()
    }
}

impl<R: AsyncRead + Unpin> Reader<R> {
    /// The next message; `Closed` at the end of the stream. Cancel-safe: a frame half read
    /// stays buffered for the next call.
    pub async fn recv(&mut self) -> Result<Msg, ProtoError> {
        let bytes = self.inner.next().await.ok_or(ProtoError::Closed)??;
        match postcard::from_bytes::<Frame>(&bytes) {
            Ok(Frame::V1(m)) => Ok(m),
            Err(e) => Err(ProtoError::Malformed(e.to_string())),
        }
    }
}

impl<W: AsyncWrite + Unpin> Writer<W> {
    pub async fn send(&mut self, m: Msg) -> Result<(), ProtoError> {
        let bytes =
            postcard::to_stdvec(&Frame::V1(m)).map_err(|e| ProtoError::Malformed(e.to_string()))?;
        if bytes.len() > MAX_FRAME {
            return Err(ProtoError::Oversized);
        }
        self.inner
            .send(tokio_util::bytes::Bytes::from(bytes))
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncWriteExt;

    #[tokio::test]
    async fn messages_round_trip_and_bad_frames_are_refused() {
        let (a, b) = tokio::io::duplex(1 << 16);
        let (_ra, mut wa) = split(a);
        let (mut rb, _wb) = split(b);
        let sent = Msg::Changes {
            batch: vec![1, 2, 3],
            upto: 42,
            more: true,
        };
        wa.send(sent.clone()).await.unwrap();
        assert_eq!(rb.recv().await.unwrap(), sent);
        // A batch is a length and its bytes, as postcard writes any sequence of bytes.
        let framed = postcard::to_stdvec(&Frame::V1(sent)).unwrap();
        assert_eq!(
            framed,
            [0, 2, 3, 1, 2, 3, 84, 1],
            "frame, variant, length, bytes, upto, more"
        );

        // Garbage inside a well-formed length prefix.
        let (a, b) = tokio::io::duplex(1 << 16);
        let (mut rb, _wb) = split(b);
        let (_ra, mut raw) = tokio::io::split(a);
        raw.write_all(&[0, 0, 0, 3, 0xff, 0xff, 0xff])
            .await
            .unwrap();
        assert!(matches!(rb.recv().await, Err(ProtoError::Malformed(_))));

        // A length over the cap is refused before the body is read.
        let (a, b) = tokio::io::duplex(1 << 16);
        let (mut rb, _wb) = split(b);
        let (_ra, mut raw) = tokio::io::split(a);
        raw.write_all(&(MAX_FRAME as u32 + 1).to_be_bytes())
            .await
            .unwrap();
        assert!(matches!(rb.recv().await, Err(ProtoError::Oversized)));

        // A length alone reserves nothing: memory grows only as the frame's bytes arrive.
        let (a, b) = tokio::io::duplex(1 << 16);
        let (mut rb, _wb) = split(b);
        let (_ra, mut raw) = tokio::io::split(a);
        raw.write_all(&(MAX_FRAME as u32).to_be_bytes())
            .await
            .unwrap();
        raw.write_all(&[7; 1000]).await.unwrap();
        assert!(futures::FutureExt::now_or_never(rb.recv()).is_none());
        assert_eq!(
            rb.inner.read_buffer().len(),
            1004,
            "what arrived is buffered"
        );
        assert!(
            rb.inner.read_buffer().capacity() < 1 << 20,
            "{} bytes reserved for a frame of which 1,000 arrived",
            rb.inner.read_buffer().capacity()
        );

        // A frame cut short by a closed connection.
        let (a, b) = tokio::io::duplex(1 << 16);
        let (mut rb, _wb) = split(b);
        let (_ra, mut raw) = tokio::io::split(a);
        raw.write_all(&[0, 0, 0, 9, 1, 2]).await.unwrap();
        drop(raw);
        drop(_ra);
        assert!(rb.recv().await.is_err());
    }
}
