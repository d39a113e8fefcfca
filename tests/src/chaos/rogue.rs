//! A rogue on the clinic's network: a stranger sending bytes without TLS, and a trusted
//! member (its certificate on the roster) whose software sends garbage frames: random bytes,
//! a length over the cap, a hello and then a change batch of random bytes, an acknowledgement
//! out of turn. Each connection ends with the rogue closing its side, so the node always has
//! a reason to hang up.

use std::net::SocketAddr;
use std::time::Duration;

use carebook_sync::clinic::demo::Rng;
use carebook_sync::identity::{DeviceId, Identity};
use carebook_sync::proto::{Frame, Msg, PROTOCOL};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

fn noise(rng: &mut Rng, max: u64) -> Vec<u8> {
    (0..1 + rng.below(max))
        .map(|_| rng.next_u64() as u8)
        .collect()
}

/// Sends one kind of garbage (chosen by `rng`) to the node at `to`, which is `expect`, and
/// waits for the node to hang up; `Err` when it does not within ten seconds.
pub async fn attack(
    me: &Identity,
    to: SocketAddr,
    expect: DeviceId,
    rng: &mut Rng,
) -> Result<(), String> {
    let kind = rng.below(5);
    let tcp = TcpStream::connect(to)
        .await
        .map_err(|e| format!("connecting: {e}"))?;
    if kind == 0 {
        return hang_up(tcp, noise(rng, 600)).await;
    }
    let config = carebook_sync::net::tls::client(me, expect).map_err(|e| e.to_string())?;
    let name = rustls::pki_types::ServerName::try_from("carebook.device").expect("a name");
    let tls = tokio_rustls::TlsConnector::from(config)
        .connect(name, tcp)
        .await
        .map_err(|e| format!("the rogue's handshake: {e}"))?;
    let bytes = match kind {
        1 => noise(rng, 3000),
        2 => u32::MAX.to_be_bytes().to_vec(),
        _ => {
            let site: Vec<u8> = (0..16).map(|_| rng.next_u64() as u8).collect();
            let hello = Msg::Hello {
                protocol: PROTOCOL,
                schema: 5,
                site_id: site,
                name: "rogue".into(),
                port: 0,
            };
            let next = if kind == 3 {
                Msg::Changes {
                    batch: noise(rng, 5000),
                    upto: rng.below(1000) as i64 + 1,
                    more: false,
                }
            } else {
                Msg::Ack {
                    upto: rng.below(1000) as i64,
                }
            };
            let mut bytes = frame(hello);
            bytes.extend_from_slice(&frame(next));
            bytes
        }
    };
    hang_up(tls, bytes).await
}

/// A message as a frame on the wire: its length, then its postcard encoding.
fn frame(m: Msg) -> Vec<u8> {
    let body = postcard::to_stdvec(&Frame::V1(m)).expect("encode a message");
    let mut out = (body.len() as u32).to_be_bytes().to_vec();
    out.extend_from_slice(&body);
    out
}

/// Writes `bytes`, closes the writing side and reads until the node hangs up.
async fn hang_up(
    mut io: impl AsyncRead + AsyncWrite + Unpin,
    bytes: Vec<u8>,
) -> Result<(), String> {
    // The node may hang up before everything is written: that is a fine answer too.
    let _ = io.write_all(&bytes).await;
    let _ = io.shutdown().await;
    let mut sink = Vec::new();
    match tokio::time::timeout(Duration::from_secs(10), io.read_to_end(&mut sink)).await {
        Ok(_) => Ok(()),
        Err(_) => Err("a node did not hang up on garbage within 10 s".into()),
    }
}
