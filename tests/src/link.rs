//! A TCP link on loopback between two computers, for faults the kernel here cannot make (no
//! netem): it can be cut (every connection through it dropped at once, new ones hung up on)
//! and healed, and it can hold every chunk for a one-way delay before passing it on. It
//! cannot lose single packets: TCP under it would only resend them.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

/// Where a link leads: moved when the computer behind it restarts on another port.
pub type Target = Arc<Mutex<SocketAddr>>;

/// A link listening on 127.0.0.1 and forwarding to its target.
pub struct Link {
    /// Dial this to reach the target through the link.
    pub addr: SocketAddr,
    up: watch::Sender<bool>,
}

impl Link {
    /// A link to `to`, holding each chunk for `delay` each way (none when zero). Its tasks run
    /// on the runtime it is opened on.
    pub async fn open(to: Target, delay: Duration) -> Link {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a port on 127.0.0.1");
        let addr = listener.local_addr().expect("the port listened on");
        let (up, watching) = watch::channel(true);
        tokio::spawn(async move {
            while let Ok((inbound, _)) = listener.accept().await {
                if !*watching.borrow() {
                    continue;
                }
                let target = *to.lock().unwrap_or_else(|p| p.into_inner());
                let mut watching = watching.clone();
                tokio::spawn(async move {
                    let Ok(outbound) = TcpStream::connect(target).await else {
                        return;
                    };
                    let _ = inbound.set_nodelay(true);
                    let _ = outbound.set_nodelay(true);
                    let (ri, wi) = inbound.into_split();
                    let (ro, wo) = outbound.into_split();
                    tokio::select! {
                        _ = async { tokio::join!(carry(ri, wo, delay), carry(ro, wi, delay)) } => {}
                        _ = watching.wait_for(|up| !*up) => {}
                    }
                });
            }
        });
        Link { addr, up }
    }

    /// Drops every connection through the link and hangs up on new ones until healed.
    pub fn cut(&self) {
        self.up.send_replace(false);
    }

    pub fn heal(&self) {
        self.up.send_replace(true);
    }
}

/// Copies one direction, each chunk held for `delay` (the reading goes on meanwhile, so the
/// delay adds latency without limiting throughput).
async fn carry(
    mut from: impl AsyncRead + Unpin,
    mut to: impl AsyncWrite + Unpin + Send + 'static,
    delay: Duration,
) {
    let (tx, mut rx) = mpsc::unbounded_channel::<(Instant, Vec<u8>)>();
    let writing = async move {
        while let Some((due, chunk)) = rx.recv().await {
            tokio::time::sleep_until(due).await;
            if to.write_all(&chunk).await.is_err() {
                return;
            }
        }
        let _ = to.shutdown().await;
    };
    let reading = async move {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            match from.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => {
                    if tx
                        .send((Instant::now() + delay, buf[..n].to_vec()))
                        .is_err()
                    {
                        return;
                    }
                }
            }
        }
    };
    tokio::join!(reading, writing);
}
