//! From a scanned code to pairing, in one process: a list of frames stands in for the camera,
//! the first valid code ends the scan, its link is reached with a TLS handshake pinned to its
//! ID (trying its addresses in turn), the pairing request lands on the other computer, and once
//! accepted records flow. A link whose ID is not the certificate's at that address is refused
//! and nothing is trusted.

use std::net::SocketAddr;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use carebook_sync::identity::DeviceId;
use carebook_sync::net::node::NodeError;
use carebook_sync::net::roster;
use carebook_sync::pairing::join::{self, JoinError};
use carebook_sync::pairing::pairing_link::PairingLink;
use carebook_sync::pairing::qr;
use carebook_sync::pairing::scan::{self, CameraError, FrameSource};
use carebook_sync::replica::ReplicaError;
use carebook_tests::{eventually, Computer, Online};
use image::{GrayImage, Luma};
use tokio::net::TcpListener;

/// A fresh computer listening, dialling nobody by itself.
async fn online(name: &str) -> Online {
    Computer::new().online(name).await
}

/// An address where nothing listens.
async fn nobody() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap()
}

/// Frames from a list, as a camera would hand them over; counts how many were taken.
struct Frames(Vec<GrayImage>, Arc<std::sync::atomic::AtomicUsize>);

impl FrameSource for Frames {
    fn next_frame(&mut self) -> Option<Result<GrayImage, CameraError>> {
        self.1.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        (!self.0.is_empty()).then(|| Ok(self.0.remove(0)))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scanned_code_hands_over_to_pairing_and_records_flow() {
    let (a, b) = (online("Front desk").await, online("Doctor").await);
    let shown = PairingLink::new(a.node.identity.id, &[nobody().await, a.addr], "Front desk");
    let foreign = {
        let other = PairingLink::new(DeviceId([7; 32]), &[a.addr], "x");
        // A code that is not ours: the same drawing with a web address in it.
        let uri = other
            .to_uri()
            .replace("carebook://pair?", "https://example.org/?");
        let code = qrcode::QrCode::new(uri).unwrap();
        let w = code.width() as u32;
        let colors = code.to_colors();
        GrayImage::from_fn((w + 8) * 4, (w + 8) * 4, |x, y| {
            let (mx, my) = ((x / 4).wrapping_sub(4), (y / 4).wrapping_sub(4));
            let dark = mx < w && my < w && colors[(my * w + mx) as usize] == qrcode::Color::Dark;
            Luma([if dark { 0 } else { 255 }])
        })
    };
    let taken = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut camera = Frames(
        vec![
            GrayImage::from_pixel(160, 120, Luma([90])),
            foreign,
            qr::render(&shown, 4).unwrap(),
            GrayImage::from_pixel(160, 120, Luma([0])),
        ],
        taken.clone(),
    );
    let link =
        tokio::task::spawn_blocking(move || scan::scan(&mut camera, &AtomicBool::new(false)))
            .await
            .unwrap()
            .unwrap();
    assert_eq!(link, shown);
    assert_eq!(taken.load(std::sync::atomic::Ordering::SeqCst), 3);

    // The first address is dead; the second answers with the right certificate.
    let address = join::reach(&b.node.identity, &link).await.unwrap();
    assert_eq!(address, a.addr);
    assert!(!b.trusts(&link.id), "reaching trusts nothing by itself");

    // The hand-over: what `carebook pair ADDRESS --id ID` does with the address and ID.
    roster::add(
        &b.node.store.writer(),
        &link.id,
        &link.name,
        &address.to_string(),
    )
    .unwrap();
    b.node.refresh_roster().await.unwrap();
    let asked = b.node.dial(address, link.id).await;
    assert!(
        matches!(asked, Err(NodeError::Replica(ReplicaError::Bye(_)))),
        "{asked:?}"
    );
    let b_id = b.node.identity.id;
    assert!(roster::requests(&a.node.store.writer())
        .unwrap()
        .iter()
        .any(|r| r.id == b_id));
    assert!(roster::accept(&a.node.store.writer(), &b_id).unwrap());
    a.node.refresh_roster().await.unwrap();
    b.maintain();

    a.node
        .store
        .writer()
        .execute(
            "INSERT INTO patients(id, family_name, date_of_birth) VALUES ('p1', 'Okafor', '1980-01-01')",
            [],
        )
        .unwrap();
    eventually("A's record on B", || {
        b.node
            .store
            .writer()
            .query_row("SELECT count(*) FROM patients WHERE id = 'p1'", [], |r| {
                r.get::<_, i64>(0)
            })
            .unwrap()
            == 1
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_link_with_another_computers_id_is_refused_and_nothing_is_trusted() {
    let (a, b) = (online("Front desk").await, online("Doctor").await);
    let c = DeviceId::of_certificate(b"a computer that is not at that address");
    let lying = PairingLink::new(c, &[a.addr], "Front desk");
    let refused = join::reach(&b.node.identity, &lying).await.unwrap_err();
    assert!(
        matches!(refused, JoinError::WrongComputer(at) if at == a.addr),
        "{refused}"
    );
    assert!(refused.to_string().contains("nothing was trusted"));
    assert!(!b.trusts(&c));
    assert!(
        roster::requests(&a.node.store.writer()).unwrap().is_empty(),
        "the probe asked nothing of A"
    );

    let dead = PairingLink::new(a.node.identity.id, &[nobody().await], "");
    assert!(matches!(
        join::reach(&b.node.identity, &dead).await,
        Err(JoinError::Unreachable { .. })
    ));
}
