//! Pairing from a picture alone, with separate processes: `carebook serve` A writes its pairing
//! code as a PNG (`carebook id --qr`), B runs `carebook pair --from-image` with no typed ID and
//! no discovery, A accepts, and a record written on A reaches B. A code carrying another
//! computer's ID at A's address, a foreign code and a picture without a code are refused.

mod common;

use common::{carebook, eventually, Serve};
use std::path::Path;

use carebook_sync::pairing::qr;
use carebook_sync::store::CrrConnection;

fn family_name(dir: &Path, id: &str) -> String {
    let db = CrrConnection::open(&dir.join("carebook.db"), true).unwrap();
    db.query_row(
        "SELECT family_name FROM patients WHERE id = ?1",
        [id],
        |r| r.get(0),
    )
    .unwrap_or_default()
}

/// Writes a PNG of a QR code holding any text (another app's code).
fn foreign_png(path: &Path, text: &str) {
    qr::render_text(text, 6).unwrap().save(path).unwrap();
}

#[test]
fn a_computer_pairs_from_a_picture_of_the_code_alone_and_records_flow() {
    let tmp = tempfile::tempdir().unwrap();
    let (da, db) = (tmp.path().join("a"), tmp.path().join("b"));
    let a = Serve::start(&da, "Front desk");
    let b = Serve::start(&db, "Doctor");
    let png = tmp.path().join("front-desk.png");
    let png_arg = png.to_str().unwrap();

    // Tests stay on 127.0.0.1, so A names that address; without --address the code would
    // carry this machine's network addresses too.
    let (code, out, err) = carebook(&da, &["id", "--qr", png_arg, "--address", &a.addr]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.starts_with(&a.id), "{out}");
    assert!(png.exists());

    // Without --address: this computer's network addresses, then 127.0.0.1, with the port
    // serve listens on.
    let port = a.addr.rsplit(':').next().unwrap();
    let (code, out, err) = carebook(
        &da,
        &[
            "id",
            "--qr",
            tmp.path().join("default.png").to_str().unwrap(),
        ],
    );
    assert_eq!(code, 0, "{out}{err}");
    let reachable: Vec<&str> = out
        .lines()
        .filter_map(|l| l.strip_prefix("reachable at "))
        .collect();
    assert_eq!(
        reachable.last(),
        Some(&format!("127.0.0.1:{port}").as_str()),
        "{out}"
    );
    assert!(
        reachable.iter().all(|r| r.ends_with(&format!(":{port}"))),
        "{out}"
    );

    let (code, out, err) = carebook(
        &db,
        &["pair", "--from-image", png_arg, "--discovery", "off"],
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains(&format!("device ID: {}", a.id))
            && out.contains("pairing code of Front desk ("),
        "{out}"
    );
    assert!(out.contains(&format!("connecting to {}", a.addr)), "{out}");
    assert!(out.contains(&format!("carebook accept {}", b.id)), "{out}");

    let (code, out, err) = carebook(&da, &["accept", &b.id]);
    assert_eq!(code, 0, "{out}{err}");

    let db_a = CrrConnection::open(&da.join("carebook.db"), false).unwrap();
    db_a.execute(
        "INSERT INTO patients(id, family_name, date_of_birth) VALUES ('p1', 'Okafor', '1980-01-01')",
        [],
    )
    .unwrap();
    eventually("A's record on B", || family_name(&db, "p1") == "Okafor");
    let (_, peers, _) = carebook(&db, &["peers"]);
    assert!(peers.contains(&a.id[..7]), "{peers}");
    drop((a, b));
}

#[test]
fn codes_that_lie_or_are_not_carebook_codes_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let (da, db, dc) = (
        tmp.path().join("a"),
        tmp.path().join("b"),
        tmp.path().join("c"),
    );
    let a = Serve::start(&da, "Front desk");
    // C's code pointing at A's address: A's certificate is not C's, so B must refuse.
    let lying = tmp.path().join("lying.png");
    let lying_arg = lying.to_str().unwrap();
    let (code, out, err) = carebook(&dc, &["id", "--qr", lying_arg, "--address", &a.addr]);
    assert_eq!(code, 0, "{out}{err}");
    let c_id = out.lines().next().unwrap().to_string();

    let (code, out, err) = carebook(&db, &["pair", "--from-image", lying_arg]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(err.contains("is not the one in the code"), "{err}");
    assert!(err.contains("nothing was trusted"), "{err}");
    let (_, peers, _) = carebook(&db, &["peers"]);
    assert!(!peers.contains(&c_id[..7]), "C is not trusted: {peers}");
    let (_, peers, _) = carebook(&da, &["peers"]);
    assert!(
        !peers.contains("ASKING TO JOIN"),
        "B asked A nothing: {peers}"
    );

    let web = tmp.path().join("web.png");
    foreign_png(&web, "https://example.org/clinic");
    let (code, _, err) = carebook(&db, &["pair", "--from-image", web.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(
        err.contains("holds a web address, not a Carebook pairing code"),
        "{err}"
    );

    let blank = tmp.path().join("blank.png");
    image::GrayImage::from_pixel(200, 100, image::Luma([255]))
        .save(&blank)
        .unwrap();
    let (code, _, err) = carebook(&db, &["pair", "--from-image", blank.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(err.contains("no QR code was found"), "{err}");

    let (code, _, err) = carebook(&tmp.path().join("new"), &["id", "--qr", "new.png"]);
    assert_eq!(code, 1);
    assert!(err.contains("has not listened for the others yet"), "{err}");
    assert_eq!(
        carebook(&db, &["id", "--address", &a.addr]).0,
        2,
        "--address needs --qr"
    );
    let (code, _, err) = carebook(&db, &["pair", "--from-image", "x.png", "--id", &a.id]);
    assert_eq!(
        code, 2,
        "an image and a typed ID together are bad arguments: {err}"
    );
    assert_eq!(carebook(&db, &["pair"]).0, 2);
    drop(a);
}
