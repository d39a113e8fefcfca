//! The Scan view's flows without a window: the camera replaced by a list of pictures, the
//! tasks `update` returns run on a tokio runtime and their messages fed back, and a second
//! real node on 127.0.0.1 as the computer whose code is scanned.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use carebook_sync::clinic::{self, staff::Role};
use carebook_sync::identity::{DeviceId, Identity, Keyring};
use carebook_sync::net::node::Node;
use carebook_sync::net::roster;
use carebook_sync::pairing::camera::{Camera, WebcamError};
use carebook_sync::pairing::pairing_link::PairingLink;
use carebook_sync::pairing::qr;
use carebook_sync::pairing::scan::CameraError;
use carebook_sync::store::{schema, Store};
use iced::futures::StreamExt;
use iced_runtime::Action;
use image::{GrayImage, RgbaImage};

use crate::app::{Message, Screen};
use crate::nav::Route;
use crate::screen::scan::{Live, Msg, OpenCamera, Scan, Typed};
use crate::testing::{runtime, Window, PIN};

/// A computer: its own folder, database, identity and node.
struct Computer {
    dir: tempfile::TempDir,
    node: Arc<Node>,
}

impl Computer {
    fn new(name: &str) -> Computer {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(Store::open(&dir.path().join("carebook.db"), schema::CLINIC).unwrap());
        let identity = Identity::load_or_create_with(dir.path(), Keyring::Off).unwrap();
        let node = Node::new(identity, store, name).unwrap();
        Computer { dir, node }
    }

    fn id(&self) -> DeviceId {
        self.node.identity.id
    }
}

/// The other computer, listening on 127.0.0.1 (any free port); its address.
fn serve(rt: &tokio::runtime::Runtime, other: &Computer) -> std::net::SocketAddr {
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let addr = listener.local_addr().unwrap();
    rt.spawn(other.node.clone().listen(listener));
    addr
}

/// This computer's window (no window): the app over its node, someone at the keyboard, on
/// the Scan view, with `camera` as its camera.
struct Joining {
    computer: Computer,
    w: Window,
}

impl Joining {
    fn new(rt: tokio::runtime::Runtime, camera: OpenCamera) -> Joining {
        Joining::named(rt, "Doctor", camera)
    }

    fn named(rt: tokio::runtime::Runtime, name: &str, camera: OpenCamera) -> Joining {
        let computer = Computer::new(name);
        let store = computer.node.store.clone();
        clinic::staff::add(
            &store.writer(),
            "Rita Front",
            [Role::Receptionist, Role::Admin],
        )
        .unwrap();
        let node = Some(computer.node.clone());
        let w = Window::with(rt, store, node, computer.dir.path(), |app| {
            app.camera = camera
        });
        let mut j = Joining { computer, w };
        j.w.sign_in("Rita Front", PIN);
        j.send(Message::Go(Route::Peers));
        j.send(Message::Go(Route::Scan));
        j
    }

    fn send(&mut self, m: Message) -> Vec<Message> {
        self.w.send(m)
    }

    fn scan(&mut self, m: Msg) -> Vec<Message> {
        self.send(Message::Scan(m))
    }

    fn view(&self) -> &Scan {
        match &self.w.app.screen {
            Screen::Scan(s) => s,
            other => panic!("not on the Scan view: {other:?}"),
        }
    }

    /// Whether the Scan view shows exactly this text.
    fn shows(&self, text: &str) -> bool {
        iced_test::simulator(self.w.app.view()).find(text).is_ok()
    }
}

/// Frames from a list, in colour as a webcam gives them; counts how many were taken.
struct Pictures {
    frames: std::vec::IntoIter<GrayImage>,
    taken: Arc<AtomicUsize>,
}

impl Camera for Pictures {
    fn next_rgba(&mut self) -> Option<Result<RgbaImage, CameraError>> {
        let frame = self.frames.next()?;
        self.taken.fetch_add(1, Ordering::SeqCst);
        Some(Ok(image::DynamicImage::ImageLuma8(frame).to_rgba8()))
    }
}

fn pictures(frames: Vec<GrayImage>, taken: &Arc<AtomicUsize>) -> OpenCamera {
    let taken = taken.clone();
    OpenCamera::new(move || {
        Ok(Box::new(Pictures {
            frames: frames.clone().into_iter(),
            taken: taken.clone(),
        }) as Box<dyn Camera>)
    })
}

fn no_camera() -> OpenCamera {
    OpenCamera::new(|| Err(WebcamError::NoCamera))
}

fn blank() -> GrayImage {
    GrayImage::from_pixel(320, 240, image::Luma([190]))
}

/// Another app's code: any text, black on white.
fn foreign(text: &str) -> GrayImage {
    qr::render_text(text, 5).unwrap()
}

fn code(link: &PairingLink) -> GrayImage {
    carebook_sync::pairing::qr::render(link, 5).unwrap()
}

fn refusals(seen: &[Message]) -> Vec<String> {
    seen.iter()
        .filter_map(|m| match m {
            Message::Scan(Msg::Refused(why)) => Some(why.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn scanning_stops_on_the_first_pairing_code_and_asks_the_other_computer_to_accept() {
    let rt = runtime();
    let front_desk = Computer::new("Front desk");
    let addr = serve(&rt, &front_desk);
    let link = PairingLink::new(front_desk.id(), &[addr], "Front desk");
    let somebody_else = PairingLink::new(DeviceId::of_certificate(b"x"), &[addr], "Other");
    let taken = Arc::new(AtomicUsize::new(0));
    let camera = pictures(
        vec![
            blank(),
            foreign("https://example.org/clinic"),
            code(&link),
            code(&somebody_else),
            blank(),
        ],
        &taken,
    );
    let mut j = Joining::new(rt, camera);
    // Go(Scan) started the camera and ran it to the end: the scan stopped on the third frame.
    assert_eq!(taken.load(Ordering::SeqCst), 3, "no frame after the code");
    assert!(j.view().handed_over, "{:?}", j.view());
    assert!(matches!(j.view().live, Live::Stopped), "the camera let go");
    assert_eq!(j.view().problem, None);
    let notice = j.w.app.notice.clone().unwrap_or_default();
    assert!(
        notice.starts_with(&format!("Asked {addr} to accept this computer")),
        "{notice}"
    );
    // The other computer has the request to join, from this one.
    let requests = roster::requests(&front_desk.node.store.writer()).unwrap();
    assert_eq!(
        requests.iter().map(|r| r.id).collect::<Vec<_>>(),
        [j.computer.id()]
    );
    // This one trusts the code's computer, named as the code said, at the address that answered.
    let trusted = roster::members(&j.computer.node.store.writer()).unwrap();
    let fd = trusted.iter().find(|m| m.id == front_desk.id()).unwrap();
    assert_eq!(
        (fd.name.as_str(), fd.address.clone()),
        ("Front desk", addr.to_string())
    );
    assert!(!trusted.iter().any(|m| m.id == somebody_else.id));
    assert!(j.shows("Back to Computers"));
    j.send(Message::Back);
    assert_eq!(j.w.app.route, Route::Peers);
}

#[test]
fn the_foreign_code_in_view_is_told_while_scanning_goes_on() {
    let taken = Arc::new(AtomicUsize::new(0));
    let camera = pictures(
        vec![blank(), foreign("https://example.org/clinic"), blank()],
        &taken,
    );
    let mut j = Joining::new(runtime(), no_camera());
    // The view opened again reads the new camera.
    j.w.app.camera = camera;
    j.send(Message::Back);
    let seen = j.send(Message::Go(Route::Scan));
    assert_eq!(
        refusals(&seen),
        ["this code holds a web address, not a Carebook pairing code"]
    );
    assert_eq!(taken.load(Ordering::SeqCst), 3);
    // The pictures ran out: said plainly, with the other ways in view.
    let Live::Unavailable(why) = &j.view().live else {
        panic!("{:?}", j.view().live)
    };
    assert!(
        why.starts_with("the camera stopped before a pairing code was seen"),
        "{why}"
    );
    assert!(j.shows("This code holds a web address, not a Carebook pairing code"));
    assert!(j.shows("Open a photo or screenshot of the code"));
}

fn save(picture: &GrayImage, path: &Path) {
    picture.save(path).unwrap();
}

#[test]
fn without_a_camera_pictures_and_typed_codes_are_refused_with_the_reason() {
    let rt = runtime();
    let front_desk = Computer::new("Front desk");
    let addr = serve(&rt, &front_desk);
    let mut j = Joining::new(rt, no_camera());
    assert!(matches!(j.view().live, Live::Unavailable(_)));
    assert!(j.shows("No camera was found on this computer"));
    assert!(j.shows("Open a photo or screenshot of the code"));

    let tmp = tempfile::tempdir().unwrap();
    let web = tmp.path().join("web.png");
    save(&foreign("https://example.org/clinic"), &web);
    j.scan(Msg::Path(web.display().to_string()));
    j.scan(Msg::OpenPath);
    assert_eq!(
        j.view().problem.as_deref(),
        Some("this code holds a web address, not a Carebook pairing code")
    );
    assert!(j.shows("This code holds a web address, not a Carebook pairing code"));

    let nothing = tmp.path().join("nothing.png");
    save(&blank(), &nothing);
    j.scan(Msg::Picked(Some(nothing)));
    assert_eq!(
        j.view().problem.as_deref(),
        Some("no QR code was found in the picture")
    );
    assert!(j.shows("No QR code was found in the picture"));

    // A closed dialog is no error: a hint, and the last reason stays.
    j.scan(Msg::Picked(None));
    assert!(j.view().hint.is_some());
    assert_eq!(j.w.app.notice, None);

    j.scan(Msg::Path(tmp.path().join("gone.png").display().to_string()));
    j.scan(Msg::OpenPath);
    let why = j.view().problem.clone().unwrap();
    assert!(why.starts_with("could not read the picture"), "{why}");

    // Another computer's ID at the front desk's address: the handshake shows the lie, and
    // nothing is trusted or asked.
    let liar = Computer::new("Not the front desk");
    let lying = PairingLink::new(liar.id(), &[addr], "Front desk");
    j.scan(Msg::Typed(lying.to_uri()));
    j.scan(Msg::SubmitTyped);
    let why = j.view().problem.clone().unwrap();
    assert!(why.contains("is not the one in the code"), "{why}");
    assert!(why.contains("nothing was trusted"), "{why}");
    assert!(!j.view().handed_over);
    let trusted = roster::members(&j.computer.node.store.writer()).unwrap();
    assert!(!trusted.iter().any(|m| m.id == liar.id()));
    assert!(roster::requests(&front_desk.node.store.writer())
        .unwrap()
        .is_empty());

    // A damaged link.
    let damaged = link_with_name_changed(&PairingLink::new(front_desk.id(), &[addr], "Front desk"));
    j.scan(Msg::Typed(damaged));
    j.scan(Msg::SubmitTyped);
    let why = j.view().problem.clone().unwrap();
    assert!(
        why.starts_with("this pairing code is damaged or was changed"),
        "{why}"
    );

    // Typed by hand, address and ID: the same hand-over.
    j.scan(Msg::Typed(format!("{addr} {}", front_desk.id().to_text())));
    j.scan(Msg::SubmitTyped);
    assert!(j.view().handed_over, "{:?}", j.view());
    assert_eq!(
        roster::requests(&front_desk.node.store.writer()).unwrap()[0].id,
        j.computer.id()
    );
}

/// The link with its name edited after the checksum was made.
fn link_with_name_changed(link: &PairingLink) -> String {
    let uri = link.to_uri();
    assert!(uri.contains("Front%20desk"), "{uri}");
    uri.replace("Front%20desk", "Back%20desk")
}

#[test]
fn the_copied_pairing_link_pastes_into_the_other_computers_scan_view() {
    // The front desk's window copies its link...
    let mut front = Joining::named(runtime(), "Front desk", no_camera());
    let addr = serve(&front.w.rt, &front.computer);
    front.w.app.listen_port = addr.port();
    front.send(Message::Go(Route::Peers));
    let task = front
        .w
        .app
        .update(Message::Peers(crate::screen::peers::Msg::CopyLink));
    let stream = iced_runtime::task::into_stream(task).expect("a clipboard write");
    let written: Vec<String> = front.w.rt.block_on(
        stream
            .filter_map(|action| async move {
                match action {
                    Action::Clipboard(iced_runtime::clipboard::Action::Write {
                        contents, ..
                    }) => Some(contents),
                    _ => None,
                }
            })
            .collect(),
    );
    let [text] = written.as_slice() else {
        panic!("{written:?}")
    };
    let copied = PairingLink::parse(text).unwrap();
    assert_eq!(copied.id, front.computer.id());
    assert_eq!(copied.name, "Front desk");
    assert_eq!(copied.addresses.last(), Some(&addr), "{text}");
    assert!(front
        .w
        .app
        .notice
        .as_deref()
        .unwrap_or("")
        .contains("pairing link is copied"));

    // ...and the doctor's pastes it. (Only the loopback address is kept here: the tests
    // reach nothing beyond 127.0.0.1.)
    let mut doctor = Joining::new(runtime(), no_camera());
    let pasted = PairingLink::new(copied.id, &[addr], &copied.name).to_uri();
    doctor.scan(Msg::Typed(format!("  {pasted}\n")));
    doctor.scan(Msg::SubmitTyped);
    assert!(doctor.view().handed_over, "{:?}", doctor.view());
    assert_eq!(
        roster::requests(&front.computer.node.store.writer()).unwrap()[0].id,
        doctor.computer.id()
    );
}

/// The front desk in a clinic with another computer already, and a new laptop listening at
/// the returned address.
fn in_a_clinic() -> (Joining, Computer, std::net::SocketAddr) {
    let front = Joining::named(runtime(), "Front desk", no_camera());
    let colleague = DeviceId::of_certificate(b"a colleague already in the clinic");
    roster::add(
        &front.computer.node.store.writer(),
        &colleague,
        "Exam room",
        "",
    )
    .unwrap();
    let newcomer = Computer::new("New laptop");
    let addr = serve(&front.w.rt, &newcomer);
    (front, newcomer, addr)
}

#[test]
fn a_computer_in_a_clinic_asks_before_adding_another_clinic_wide() {
    let (mut front, newcomer, addr) = in_a_clinic();
    front.send(Message::Go(Route::Peers));
    use crate::screen::peers::Msg as P;
    front.send(Message::Peers(P::Address(addr.to_string())));
    front.send(Message::Peers(P::Id(newcomer.id().to_text())));
    let trusted = |front: &Joining| {
        roster::members(&front.computer.node.store.writer())
            .unwrap()
            .iter()
            .any(|m| m.id == newcomer.id())
    };
    let confirming = |front: &Joining| match &front.w.app.screen {
        Screen::Peers(p) => p.confirm_pair,
        other => panic!("not on the Computers screen: {other:?}"),
    };

    front.send(Message::Peers(P::Pair));
    assert_eq!(confirming(&front), Some((addr, newcomer.id())));
    assert!(!trusted(&front), "nothing trusted on the first press");
    assert!(
        iced_test::simulator(front.w.app.view())
            .find("Add it to the clinic")
            .is_ok(),
        "the button says what a second press does"
    );

    front.send(Message::Peers(P::Pair));
    assert_eq!(confirming(&front), None);
    assert!(trusted(&front), "added on the second press");
    assert_eq!(
        roster::requests(&newcomer.node.store.writer()).unwrap()[0].id,
        front.computer.id()
    );
}

#[test]
fn the_scan_view_of_a_computer_in_a_clinic_asks_before_adding_another_clinic_wide() {
    let (mut front, newcomer, addr) = in_a_clinic();
    let link = PairingLink::new(newcomer.id(), &[addr], "New laptop");
    let trusted = |front: &Joining| {
        roster::members(&front.computer.node.store.writer())
            .unwrap()
            .iter()
            .any(|m| m.id == newcomer.id())
    };
    // A scanned (or pasted) code: who would be added is shown, and nothing is trusted yet.
    front.scan(Msg::Found(link.clone()));
    assert_eq!(front.view().confirm, Some(Typed::Link(link.clone())));
    assert!(!trusted(&front), "nothing trusted before the confirmation");
    assert!(front.shows("Add it to the clinic"));
    // Cancel forgets it.
    front.scan(Msg::ScanAgain);
    assert_eq!(front.view().confirm, None);
    assert!(!trusted(&front));
    // A typed address and ID asks too; "Add it to the clinic" pairs.
    front.scan(Msg::Typed(format!("{addr} {}", newcomer.id().to_text())));
    front.scan(Msg::SubmitTyped);
    assert_eq!(
        front.view().confirm,
        Some(Typed::Direct(addr, newcomer.id()))
    );
    assert!(!trusted(&front));
    front.scan(Msg::Confirm);
    assert!(front.view().handed_over, "{:?}", front.view());
    assert!(trusted(&front), "added once confirmed");
    assert_eq!(
        roster::requests(&newcomer.node.store.writer()).unwrap()[0].id,
        front.computer.id()
    );
}
