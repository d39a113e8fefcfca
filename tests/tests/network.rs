//! Three computers on 127.0.0.1 over real TLS with real certificates: trust spreads through the
//! replicated roster (two pairings connect three computers), records converge, and unpaired
//! or removed devices, wrong IDs and plain TCP are refused while the node keeps serving.

use std::net::SocketAddr;
use std::time::Duration;

use carebook_sync::net::roster::{self, Verdict};
use carebook_sync::store;
use carebook_sync::{proto, replica};
use carebook_tests::{eventually, Online};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// What the nodes in this test binary logged, to check that refusals give their reason.
static LOG: std::sync::Mutex<Vec<u8>> = std::sync::Mutex::new(Vec::new());

struct LogWriter;

impl std::io::Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        LOG.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The log lines about connections from `from` so far (capturing starts on first call).
fn logged_about(from: SocketAddr) -> Vec<String> {
    static INIT: std::sync::Once = std::sync::Once::new();
    INIT.call_once(|| {
        tracing_subscriber::fmt()
            .with_ansi(false)
            .with_writer(|| LogWriter)
            .init();
    });
    let needle = format!("addr={from}");
    String::from_utf8_lossy(&LOG.lock().unwrap())
        .lines()
        .filter(|l| l.contains(&needle))
        .map(str::to_string)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_computers_pair_converge_and_refuse_strangers() {
    let (a, b, c) = (
        Online::start("Front desk").await,
        Online::start("Doctor").await,
        Online::start("Laptop").await,
    );
    // Two pairings: B with A, C with A.
    a.trust(&b, "Doctor").await;
    b.trust(&a, "Front desk").await;
    a.trust(&c, "Laptop").await;
    c.trust(&a, "Front desk").await;
    b.stay_connected(&a);
    c.stay_connected(&a);

    a.write("p1", "Okafor");
    eventually("A's record on B and C", || {
        b.family("p1").is_some() && c.family("p1").is_some()
    })
    .await;
    // Trust spread: B learned of C through A's roster, and can talk to C directly.
    eventually("B trusts C", || {
        b.node.roster.verdict(&c.id()) == Verdict::Trusted
    })
    .await;
    eventually("C trusts B", || {
        c.node.roster.verdict(&b.id()) == Verdict::Trusted
    })
    .await;
    b.stay_connected(&c);
    b.write("p2", "Tanaka");
    c.write("p3", "Silva");
    eventually("all three hold all records", || {
        [&a, &b, &c]
            .iter()
            .all(|x| x.family("p2").is_some() && x.family("p3").is_some())
    })
    .await;

    // Strangers are refused, with the node still serving its real peers afterwards.
    let stranger = Online::start("Stranger").await;
    stranger.trust(&a, "A").await;
    assert!(
        stranger.node.dial(a.addr, a.id()).await.is_err(),
        "an unpaired certificate gets no session"
    );
    assert_eq!(stranger.family("p1"), None, "and no records");
    assert!(
        b.node.dial(a.addr, c.id()).await.is_err(),
        "a wrong device ID is refused"
    );
    let mut plain = TcpStream::connect(a.addr).await.unwrap();
    plain.write_all(b"GET / HTTP/1.1\r\n\r\n").await.unwrap();
    let mut buf = [0u8; 64];
    let n = tokio::time::timeout(Duration::from_secs(5), plain.read(&mut buf))
        .await
        .unwrap()
        .unwrap_or(0);
    assert!(
        n == 0 || !buf[..n].starts_with(b"HTTP"),
        "plain TCP gets no service"
    );
    a.write("p1", "Okafor-Mensah");
    eventually("A still serves B and C", || {
        b.family("p1").as_deref() == Some("Okafor-Mensah")
            && c.family("p1").as_deref() == Some("Okafor-Mensah")
    })
    .await;

    // A stolen laptop: removed on A, refused everywhere, its sessions cut.
    roster::revoke(&a.node.store.writer(), &c.id()).unwrap();
    a.node.refresh_roster().await.unwrap();
    eventually("B learns C was removed", || {
        b.node.roster.verdict(&c.id()) == Verdict::Revoked
    })
    .await;
    eventually("A and B ended their sessions with C", || {
        a.node.sessions_with(&c.id()) == 0 && b.node.sessions_with(&c.id()) == 0
    })
    .await;
    a.write("p4", "Secret");
    eventually("A's new record reached B", || b.family("p4").is_some()).await;
    assert_eq!(
        c.family("p4"),
        None,
        "nothing more reaches the removed device"
    );
    assert!(
        c.node.dial(a.addr, a.id()).await.is_err(),
        "and it cannot come back"
    );
    assert_eq!(
        b.family("p4").as_deref(),
        Some("Secret"),
        "the others carry on"
    );
    let err = b
        .node
        .store
        .writer()
        .execute("UPDATE devices SET revoked_at = 0", [])
        .unwrap_err();
    assert!(err.to_string().contains("cannot be re-admitted"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pairing_needs_both_sides_to_accept() {
    let (a, d) = (
        Online::start("Front desk").await,
        Online::start("New laptop").await,
    );
    a.write("p1", "Okafor");
    // D's person confirmed A's ID (typed or scanned): D trusts A and asks to join.
    d.trust(&a, "Front desk").await;
    let err = d.node.dial(a.addr, a.id()).await.unwrap_err();
    assert!(err.to_string().contains("accept this computer"), "{err}");
    assert_eq!(d.family("p1"), None, "no records before A accepts");
    let requests = roster::requests(&a.node.store.writer()).unwrap();
    assert_eq!(requests.len(), 1);
    assert_eq!(
        (requests[0].id, requests[0].name.as_str()),
        (d.id(), "New laptop")
    );
    assert_eq!(
        requests[0].address,
        d.addr.to_string(),
        "the address D listens on"
    );
    // A's person accepts D; from now on they replicate.
    assert!(roster::accept(&a.node.store.writer(), &d.id()).unwrap());
    a.node.refresh_roster().await.unwrap();
    d.stay_connected(&a);
    eventually("A's records reach D", || d.family("p1").is_some()).await;
    assert!(roster::requests(&a.node.store.writer()).unwrap().is_empty());
    // A dials D back at the address from the request (the maintain loop does so by itself).
    d.write("p9", "From the laptop");
    eventually("D's record reaches A", || a.family("p9").is_some()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn old_deletions_are_forgotten_only_once_every_trusted_computer_has_them() {
    let (a, b) = (
        Online::start("Front desk").await,
        Online::start("Doctor").await,
    );
    a.trust(&b, "Doctor").await;
    b.trust(&a, "Front desk").await;
    b.stay_connected(&a);
    // A computer paired with A that has never connected holds compaction back.
    let absent = Online::start("Laptop in a drawer").await;
    // Its address is not known (it is in a drawer), so nobody reaches it.
    roster::add(
        &a.node.store.writer(),
        &absent.id(),
        "Laptop in a drawer",
        "",
    )
    .unwrap();
    a.node.refresh_roster().await.unwrap();
    a.write("gone", "Deleted soon");
    a.node
        .store
        .writer()
        .execute("DELETE FROM patients WHERE id = 'gone'", [])
        .unwrap();
    eventually("B has everything and A knows B's site", || {
        roster::status(&a.node.store.writer(), &b.id())
            .unwrap()
            .is_some_and(|s| s.state == "live" && s.lag == 0)
    })
    .await;
    // B's acknowledgement of the deletion is recorded: only the absent laptop holds it back.
    let deleted_at = store::db_version(&a.node.store.writer()).unwrap();
    eventually("A recorded that B has the deletion", || {
        let db = a.node.store.writer();
        let site: Option<Vec<u8>> = db
            .query_row(
                "SELECT site_id FROM peer_status WHERE id = ?1",
                [b.id().to_text()],
                |r| r.get(0),
            )
            .unwrap_or(None);
        site.is_some_and(|site| replica::acknowledged(&db, &site).unwrap() >= deleted_at)
    })
    .await;
    assert_eq!(
        a.node.compact().await.unwrap(),
        0,
        "the absent laptop has not seen the deletion"
    );
    // People are warned about it, and about any computer away for weeks.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let away = roster::long_away(&a.node.store.writer(), &a.id(), now).unwrap();
    assert_eq!(away.len(), 1, "B is live, only the laptop is away");
    assert_eq!((away[0].member.id, away[0].days), (absent.id(), None));
    assert!(away[0].to_string().contains("has never connected"));
    let in_three_weeks = roster::long_away(&a.node.store.writer(), &a.id(), now + 21 * 86_400)
        .unwrap()
        .into_iter()
        .find(|w| w.member.id == b.id())
        .expect("B unseen for three weeks is warned about");
    assert!(
        (20..=21).contains(&in_three_weeks.days.unwrap()),
        "{in_three_weeks}"
    );
    roster::revoke(&a.node.store.writer(), &absent.id()).unwrap();
    assert_eq!(
        a.node.compact().await.unwrap(),
        1,
        "removed computers do not count"
    );
    // Nothing comes back when B and A keep exchanging.
    b.write("after", "Later record");
    eventually("B's later record on A", || a.family("after").is_some()).await;
    assert_eq!(a.family("gone"), None);
    assert_eq!(b.family("gone"), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn computers_that_dial_each_other_at_once_keep_one_session() {
    let (a, b) = (
        Online::start("Front desk").await,
        Online::start("Doctor").await,
    );
    // Trusted with no address known, so that only this test dials.
    roster::add(&a.node.store.writer(), &b.id(), "Doctor", "").unwrap();
    roster::add(&b.node.store.writer(), &a.id(), "Front desk", "").unwrap();
    a.node.refresh_roster().await.unwrap();
    b.node.refresh_roster().await.unwrap();
    // Both dial at the same moment, as happens when two computers start together.
    let (na, nb) = (a.node.clone(), b.node.clone());
    let (to_b, to_a) = (b.addr, a.addr);
    let (idb, ida) = (b.id(), a.id());
    let mut from_a = tokio::spawn(async move { na.dial(to_b, idb).await });
    let mut from_b = tokio::spawn(async move { nb.dial(to_a, ida).await });
    // One of the two connections ends at once; the one dialled by the lower ID stays.
    let ended = tokio::time::timeout(Duration::from_secs(5), async {
        tokio::select! {
            r = &mut from_a => (a.id() > b.id(), r.unwrap()),
            r = &mut from_b => (b.id() > a.id(), r.unwrap()),
        }
    })
    .await
    .expect("one of the two connections ends");
    assert!(ended.0, "the connection dialled by the higher ID ends");
    assert!(ended.1.is_err());
    a.write("p1", "Okafor");
    b.write("p2", "Tanaka");
    eventually("both records on both", || {
        a.family("p2").is_some() && b.family("p1").is_some()
    })
    .await;
    assert_eq!(a.node.sessions_with(&b.id()), 1, "one session on A");
    assert_eq!(b.node.sessions_with(&a.id()), 1, "one session on B");
    from_a.abort();
    from_b.abort();
}

/// Opens a TLS connection to `to` with a trusted computer's certificate and sends raw bytes,
/// then returns the local address (for its log lines) once the node has hung up.
async fn send_raw(from: &Online, to: &Online, bytes: &[u8], close: bool) -> SocketAddr {
    let tcp = TcpStream::connect(to.addr).await.unwrap();
    let local = tcp.local_addr().unwrap();
    let config = carebook_sync::net::tls::client(&from.node.identity, to.id()).unwrap();
    let name = rustls::pki_types::ServerName::try_from("carebook.device").unwrap();
    let mut tls = tokio_rustls::TlsConnector::from(config)
        .connect(name, tcp)
        .await
        .unwrap();
    tls.write_all(bytes).await.unwrap();
    if close {
        tls.shutdown().await.unwrap();
    }
    // The node ends the connection: reading reaches the end (after its hello, if it sent one).
    let mut sink = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), tls.read_to_end(&mut sink)).await;
    assert!(read.is_ok(), "the node hangs up on a bad stream");
    local
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_frames_from_a_trusted_computer_are_refused_with_a_logged_reason() {
    let _ = logged_about("127.0.0.1:1".parse().unwrap());
    let (a, b, rogue) = (
        Online::start("Front desk").await,
        Online::start("Doctor").await,
        Online::start("Laptop with a bug").await,
    );
    a.trust(&b, "Doctor").await;
    b.trust(&a, "Front desk").await;
    // The rogue is trusted but nobody dials it and it dials nobody: only its raw bytes arrive.
    roster::add(&a.node.store.writer(), &rogue.id(), "Laptop", "").unwrap();
    roster::add(&rogue.node.store.writer(), &a.id(), "Front desk", "").unwrap();
    a.node.refresh_roster().await.unwrap();
    b.stay_connected(&a);
    a.write("p1", "Okafor");
    eventually("B is in sync", || b.family("p1").is_some()).await;

    let oversized = send_raw(&rogue, &a, &u32::MAX.to_be_bytes(), false).await;
    let mut garbage = 7u32.to_be_bytes().to_vec();
    garbage.extend_from_slice(&[0xff; 7]);
    let malformed = send_raw(&rogue, &a, &garbage, false).await;
    let mut cut = 1000u32.to_be_bytes().to_vec();
    cut.extend_from_slice(&[0; 10]);
    let truncated = send_raw(&rogue, &a, &cut, true).await;
    let plain = {
        let mut tcp = TcpStream::connect(a.addr).await.unwrap();
        let local = tcp.local_addr().unwrap();
        tcp.write_all(b"\x00\x00\x00\x05hello").await.unwrap();
        let mut sink = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(10), tcp.read_to_end(&mut sink)).await;
        local
    };
    for (from, reason) in [
        (oversized, "frame larger than"),
        (malformed, "malformed frame"),
        (truncated, "truncated"),
        (plain, "TLS handshake failed"),
    ] {
        eventually(&format!("a logged reason for {reason}"), || {
            logged_about(from)
                .iter()
                .any(|l| l.contains("connection refused or ended") && l.contains(reason))
        })
        .await;
    }
    assert_eq!(
        rogue.family("p1"),
        None,
        "no records went to the bad streams"
    );
    a.write("p1", "Okafor-Mensah");
    eventually("A still serves B", || {
        b.family("p1").as_deref() == Some("Okafor-Mensah")
    })
    .await;
}

/// Runs SQL in the stock sqlite3 shell (another program) on `db`, with the engine loaded.
fn in_the_shell(db: &std::path::Path, sql: &str) {
    let engine = carebook_sync::store::locate_engine().unwrap();
    let script = format!(
        // Like any program beside a running Carebook: wait for the writer rather than fail.
        ".timeout 5000\n.load {}\n{sql}\nSELECT crsql_finalize();\n",
        engine.with_extension("").display()
    );
    let mut child = std::process::Command::new("sqlite3")
        .arg(db)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("the sqlite3 shell is needed (apt-get install sqlite3)");
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), script.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_written_by_another_program_reach_the_peer_at_once() {
    let (a, b) = (
        Online::start("Front desk").await,
        Online::start("Doctor").await,
    );
    a.trust(&b, "Doctor").await;
    b.trust(&a, "Front desk").await;
    b.stay_connected(&a);
    a.write("p1", "Okafor");
    eventually("B is in sync", || b.family("p1").is_some()).await;
    // Nobody tells the node: A's store notices each commit of the shell. Each edit arrives well
    // within the sessions' 5 s heartbeat, which would otherwise be the first thing to look.
    for family in ["Okafor-Mensah", "Mensah", "Okafor"] {
        let at = std::time::Instant::now();
        in_the_shell(
            a.node.store.path(),
            &format!("UPDATE patients SET family_name = '{family}' WHERE id = 'p1';"),
        );
        eventually(&format!("{family} on B"), || {
            b.family("p1").as_deref() == Some(family)
        })
        .await;
        // Before the first heartbeat (5 s) could have woken the session.
        assert!(
            at.elapsed() < Duration::from_secs(4),
            "{family} took {:?}",
            at.elapsed()
        );
    }
}

/// A bulk import or a restore is one transaction, one db_version; one larger than the frame
/// cap (16 MiB) could never be sent before. Over real TLS, it arrives whole.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_transaction_larger_than_a_frame_reaches_the_other_computer() {
    let (a, b) = (
        Online::start("Front desk").await,
        Online::start("Doctor").await,
    );
    a.node
        .store
        .writer()
        .execute_batch(
            "BEGIN;
             WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 40000)
             INSERT INTO patients(id, family_name, date_of_birth, notes)
               SELECT 'bulk-' || i, 'Imported', '1970-01-01', hex(randomblob(150)) FROM n;
             COMMIT;",
        )
        .unwrap();
    let size: i64 = a
        .node
        .store
        .writer()
        .query_row("SELECT length(crsql_export_changes(0))", [], |r| r.get(0))
        .unwrap();
    assert!(
        size > carebook_sync::proto::MAX_FRAME as i64,
        "the transaction is larger than a frame ({size} bytes)"
    );
    a.trust(&b, "Doctor").await;
    b.trust(&a, "Front desk").await;
    b.stay_connected(&a);
    let count = |c: &Online| -> i64 {
        c.node
            .store
            .writer()
            .query_row("SELECT count(*) FROM patients", [], |r| r.get(0))
            .unwrap()
    };
    let started = std::time::Instant::now();
    while count(&b) != 40_000 {
        assert!(
            started.elapsed() < Duration::from_secs(180),
            "timed out waiting for the 40,000 imported patients on B (B has {})",
            count(&b)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Says hello to `to` over TLS with `from`'s certificate and the given site id; returns the
/// node's answer after its own hello.
async fn hello_with_site(from: &Online, to: &Online, site_id: Vec<u8>) -> proto::Msg {
    let tcp = TcpStream::connect(to.addr).await.unwrap();
    let config = carebook_sync::net::tls::client(&from.node.identity, to.id()).unwrap();
    let name = rustls::pki_types::ServerName::try_from("carebook.device").unwrap();
    let tls = tokio_rustls::TlsConnector::from(config)
        .connect(name, tcp)
        .await
        .unwrap();
    let (mut rx, mut tx) = proto::split(tls);
    tx.send(proto::Msg::Hello {
        protocol: proto::PROTOCOL,
        schema: 1,
        site_id,
        name: "Laptop".into(),
        port: 0,
    })
    .await
    .unwrap();
    let wait = Duration::from_secs(10);
    let first = tokio::time::timeout(wait, rx.recv())
        .await
        .unwrap()
        .unwrap();
    assert!(matches!(first, proto::Msg::Hello { .. }), "{first:?}");
    tokio::time::timeout(wait, rx.recv())
        .await
        .unwrap()
        .unwrap()
}

/// Each device is bound to its site on first contact: a member that says hello with another
/// member's site (to move that member's acknowledgement, say), or a device with another site
/// than before, is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_cannot_claim_another_members_site() {
    let (a, b, rogue) = (
        Online::start("Front desk").await,
        Online::start("Doctor").await,
        Online::start("Laptop").await,
    );
    a.trust(&b, "Doctor").await;
    b.trust(&a, "Front desk").await;
    roster::add(&a.node.store.writer(), &rogue.id(), "Laptop", "").unwrap();
    a.node.refresh_roster().await.unwrap();
    b.stay_connected(&a);
    a.write("p1", "Okafor");
    eventually("B is in sync", || b.family("p1").is_some()).await;
    let site = |c: &Online| -> Vec<u8> {
        c.node
            .store
            .writer()
            .query_row("SELECT crsql_site_id()", [], |r| r.get(0))
            .unwrap()
    };
    // B's acknowledgement follows its merge: wait for it before reading it.
    let acked_by_b = || replica::acknowledged(&a.node.store.writer(), &site(&b)).unwrap();
    eventually("B acknowledged A's changes", || acked_by_b() > 0).await;
    let acked = acked_by_b();

    match hello_with_site(&rogue, &a, site(&b)).await {
        proto::Msg::Bye { reason } => {
            assert!(reason.contains("site of another computer"), "{reason}")
        }
        other => panic!("a hello with another member's site was answered with {other:?}"),
    }
    match hello_with_site(&b, &a, vec![9; 16]).await {
        proto::Msg::Bye { reason } => assert!(reason.contains("another site"), "{reason}"),
        other => panic!("a hello with a new site was answered with {other:?}"),
    }
    assert_eq!(
        replica::acknowledged(&a.node.store.writer(), &site(&b)).unwrap(),
        acked,
        "B's acknowledgement did not move"
    );
    // The rogue with its own site is still a member; B carries on.
    a.write("p1", "Okafor-Mensah");
    eventually("A still serves B", || {
        b.family("p1").as_deref() == Some("Okafor-Mensah")
    })
    .await;
}
