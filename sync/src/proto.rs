//! Versioned wire messages and the length-prefixed framing they travel in, over any
//! `AsyncRead + AsyncWrite` (an in-memory pipe in tests, TLS between computers). A frame is a
//! 4-byte big-endian length and a postcard-encoded [`Frame`]; frames over [`MAX_FRAME`] are
//! refused before they are read. Nothing here decides policy: see `replica`.

use futures::{SinkExt, StreamExt};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_util::codec::{FramedRead, FramedWrite, LengthDelimitedCodec};

/// The protocol version this build speaks.
pub const PROTOCOL: u32 = 1;

/// The largest frame accepted (a change batch is cut well below this).
pub const MAX_FRAME: usize = 16 * 1024 * 1024;

/// What travels on the wire: versioned, so a newer peer's messages are refused clearly.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Frame {
    V1(Msg),
}

/// Version 1 messages.
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
    /// "Send me what you have after this db_version of yours" (the receiver's watermark).
    Pull { since: i64 },
    /// A change batch (`crsql_export_changes`) ending at the sender's db_version `upto`.
    Changes { batch: Vec<u8>, upto: i64 },
    /// The changes up to the sender's db_version `upto` are merged and durable here.
    Ack { upto: i64 },
    /// Still here.
    Heartbeat,
    /// Closing, with the reason.
    Bye { reason: String },
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
        if e.kind() == std::io::ErrorKind::InvalidData
            && e.to_string().contains("frame size too big")
        {
            ProtoError::Oversized
        } else if e.to_string().contains("bytes remaining on stream") {
            ProtoError::Truncated
        } else {
            ProtoError::Io(e)
        }
    }
}

fn codec() -> LengthDelimitedCodec {
    LengthDelimitedCodec::builder()
        .length_field_length(4)
        .max_frame_length(MAX_FRAME)
        .new_codec()
}

/// The receiving half of a connection.
pub struct Reader<R> {
    inner: FramedRead<R, LengthDelimitedCodec>,
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
            inner: FramedRead::new(r, codec()),
        },
        Writer {
            inner: FramedWrite::new(w, codec()),
        },
    )
}

impl<R: AsyncRead + Unpin> Reader<R> {
    /// The next message; `Closed` at the end of the stream.
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
        };
        wa.send(sent.clone()).await.unwrap();
        assert_eq!(rb.recv().await.unwrap(), sent);

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
