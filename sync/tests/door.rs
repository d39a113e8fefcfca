//! What any machine on the network can do to a computer before it proves who it is: hold
//! connections open without a word (each is dropped after a few seconds, and only so many
//! from one address are kept at all), and the computer still answers the clinic's own.

use std::time::{Duration, Instant};

use carebook_sync::net::gate::MAX_PENDING_PER_ADDRESS;
use carebook_sync::net::members::{self, Pairing};
use carebook_sync::net::node::HANDSHAKE;
use carebook_tests::{Computer, Online};
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;

/// Waits until the computer at the other end closes `conn`.
async fn closed(conn: &mut TcpStream) {
    let mut byte = [0u8; 1];
    // End of stream or a reset: closed either way.
    while let Ok(n) = conn.read(&mut byte).await {
        if n == 0 {
            return;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_that_says_nothing_is_dropped_after_a_few_seconds() {
    let a = Computer::new().online("Front desk").await;
    let mut silent = TcpStream::connect(a.addr).await.unwrap();
    let started = Instant::now();
    closed(&mut silent).await;
    let held = started.elapsed();
    assert!(
        held < HANDSHAKE + Duration::from_secs(2) && HANDSHAKE <= Duration::from_secs(5),
        "a silent connection was held {held:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_address_holds_only_so_many_unfinished_connections() {
    let a = Computer::new().online("Front desk").await;
    let mut held = Vec::new();
    for _ in 0..MAX_PENDING_PER_ADDRESS {
        held.push(TcpStream::connect(a.addr).await.unwrap());
    }
    let mut one_more = TcpStream::connect(a.addr).await.unwrap();
    closed(&mut one_more).await;
    // Turned away at once, while the ones before it are still waiting for their handshake.
    let mut byte = [0u8; 1];
    for conn in &held {
        let waiting = conn.try_read(&mut byte);
        assert!(
            matches!(&waiting, Err(e) if e.kind() == std::io::ErrorKind::WouldBlock),
            "{waiting:?}"
        );
    }
    drop(held);
    // Once their places are free (as soon as the computer sees them closed), others get in.
    let b: Online = Computer::new().online("New laptop").await;
    let started = Instant::now();
    loop {
        let asked = members::pair(&b.node, a.addr, a.id(), "").await.unwrap();
        if matches!(asked, Pairing::Requested { .. }) {
            break;
        }
        assert!(started.elapsed() < HANDSHAKE * 2, "{asked:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
