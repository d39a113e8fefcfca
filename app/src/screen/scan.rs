//! The Scan view: reading the other computer's pairing code to join it. The live camera
//! picture with a frame to aim at, decoded on a thread of its own until the first Carebook
//! pairing link; or, without a usable camera, a photo or screenshot of the code (a file
//! dialog, or a typed path), or the link text pasted (or an address and device ID typed).
//! All of them hand over to the Computers screen's pairing: the link's addresses are tried
//! with a handshake pinned to its ID (`join::reach`), then the same request to join.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use carebook_sync::identity::DeviceId;
use carebook_sync::net::node::Node;
use carebook_sync::net::roster;
use carebook_sync::pairing::camera::{Camera, Shown, Webcam, WebcamError};
use carebook_sync::pairing::pairing_link::PairingLink;
use carebook_sync::pairing::scan::{self, ScanError};
use carebook_sync::pairing::{join, qr};
use iced::futures::channel::mpsc;
use iced::futures::{executor, SinkExt};
use iced::widget::{button, center, column, container, image, row, stack, text, text_input};
use iced::{border, Center, Color, ContentFit, Element, Fill, Task, Theme};

use crate::nav::Event;
use crate::screen::capitalised;
use crate::screen::peers;
use crate::theme;

/// How the Scan view gets its camera: the webcam, or in tests a list of pictures. It is
/// called on the scanning thread, which then owns the camera until the scan ends.
#[derive(Clone)]
pub struct OpenCamera(Arc<dyn Fn() -> Result<Box<dyn Camera>, WebcamError> + Send + Sync>);

impl OpenCamera {
    /// The computer's first camera.
    pub fn webcam() -> OpenCamera {
        OpenCamera::new(|| Webcam::open().map(|w| Box::new(w) as Box<dyn Camera>))
    }

    pub fn new(
        open: impl Fn() -> Result<Box<dyn Camera>, WebcamError> + Send + Sync + 'static,
    ) -> OpenCamera {
        OpenCamera(Arc::new(open))
    }
}

impl std::fmt::Debug for OpenCamera {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OpenCamera")
    }
}

/// Where the camera stands.
#[derive(Debug, Default)]
pub enum Live {
    /// Not asked for yet.
    #[default]
    Idle,
    /// Asked for; the picture shows once the first frame arrives.
    Watching(Option<image::Handle>),
    /// Cannot be used, and why.
    Unavailable(String),
    /// A code was taken (or the code came another way): the camera was let go.
    Stopped,
}

#[derive(Debug)]
pub struct Scan {
    /// This computer on the network (None: the window runs without it, so it cannot join).
    node: Option<Arc<Node>>,
    camera: OpenCamera,
    pub live: Live,
    /// The picture's path, typed (or filled in by the file dialog).
    pub path: String,
    /// A pasted link, or an address and device ID.
    pub typed: String,
    /// Why the last code, picture or link was not taken.
    pub problem: Option<String>,
    /// What is being done with a code that was taken.
    pub progress: Option<String>,
    /// The hand-over to pairing is done (the other side still has to accept).
    pub handed_over: bool,
    /// A quiet word about the file dialog (closed without a picture).
    pub hint: Option<String>,
    /// The computer about to be added clinic-wide, waiting for "Add it to the clinic" (this
    /// computer is in a clinic already, so the new one would be trusted by all of it at once).
    pub confirm: Option<Typed>,
    /// Tells the scanning thread to stop (set when the view goes away, too).
    cancel: Arc<AtomicBool>,
    /// The task carrying the thread's messages; dropping it ends the task, so nothing from
    /// an earlier scan reaches a later one.
    watching: Option<iced::task::Handle>,
}

impl Scan {
    fn stop_camera(&mut self) {
        self.cancel.store(true, Ordering::Relaxed);
        self.watching = None;
        if matches!(self.live, Live::Watching(_) | Live::Idle) {
            self.live = Live::Stopped;
        }
    }
}

impl Drop for Scan {
    fn drop(&mut self) {
        self.cancel.store(true, Ordering::Relaxed);
    }
}

#[derive(Debug, Clone)]
pub enum Msg {
    /// A camera frame to show.
    Frame(image::Handle),
    /// The camera cannot be used (or stopped), and why.
    CameraOff(String),
    /// A code in view, a picture or a link was refused, and why.
    Refused(String),
    /// A Carebook pairing link was read (camera or picture).
    Found(PairingLink),
    ScanAgain,
    Pick,
    Picked(Option<PathBuf>),
    Path(String),
    OpenPath,
    Typed(String),
    SubmitTyped,
    /// Add the computer waiting for confirmation to the clinic.
    Confirm,
    /// How the hand-over to pairing went: what to tell the person, or why it failed.
    Outcome(Result<String, String>),
    Back,
}

impl Scan {
    /// The Scan view for this computer's node, reading codes with `camera`; the task carries
    /// the camera's frames and finds.
    pub fn open(node: Option<Arc<Node>>, camera: OpenCamera) -> (Scan, Task<Msg>) {
        let mut scan = Scan {
            node,
            camera,
            live: Live::Idle,
            path: String::new(),
            typed: String::new(),
            problem: None,
            progress: None,
            handed_over: false,
            hint: None,
            confirm: None,
            cancel: Arc::new(AtomicBool::new(false)),
            watching: None,
        };
        let task = scan.start();
        (scan, task)
    }

    /// Starts the camera, unless it was asked for already.
    fn start(&mut self) -> Task<Msg> {
        if self.node.is_none() || !matches!(self.live, Live::Idle) {
            return Task::none();
        }
        self.live = Live::Watching(None);
        self.cancel = Arc::new(AtomicBool::new(false));
        let (task, handle) =
            Task::stream(watch(self.camera.clone(), self.cancel.clone())).abortable();
        self.watching = Some(handle.abort_on_drop());
        task
    }
}

/// Opens the camera and scans on a thread of its own; what it sees and finds comes back as
/// messages. The thread ends (and lets the camera go) when a link is read, the camera fails,
/// or `cancel` is set.
fn watch(open: OpenCamera, cancel: Arc<AtomicBool>) -> mpsc::Receiver<Msg> {
    let (tx, rx) = mpsc::channel(1);
    let mut failed = tx.clone();
    let spawned = std::thread::Builder::new()
        .name("carebook-camera".into())
        .spawn(move || {
            let say = |m: Msg| {
                let _ = executor::block_on(tx.clone().send(m));
            };
            let camera = match (open.0)() {
                Ok(camera) => camera,
                Err(e) => {
                    tracing::info!("no camera for scanning: {e}");
                    return say(Msg::CameraOff(e.to_string()));
                }
            };
            let mut preview = tx.clone();
            let mut source = Shown::new(camera, move |frame| {
                let (w, h) = frame.dimensions();
                // While the window has not taken the last frame yet, newer ones are skipped.
                let _ =
                    preview.try_send(Msg::Frame(image::Handle::from_rgba(w, h, frame.into_raw())));
            });
            let found = scan::scan_telling(&mut source, &cancel, &mut |e| {
                say(Msg::Refused(e.to_string()))
            });
            drop(source);
            match found {
                Ok(link) => say(Msg::Found(link)),
                Err(ScanError::Cancelled { .. }) => {}
                Err(e) => say(Msg::CameraOff(e.to_string())),
            }
        });
    if let Err(e) = spawned {
        let _ = failed.try_send(Msg::CameraOff(format!("could not start scanning: {e}")));
    }
    rx
}

/// The file dialog for a photo or screenshot of the code. None when it was closed without a
/// picture, or where no dialog can be shown (the typed path is there for that).
async fn pick() -> Option<PathBuf> {
    rfd::AsyncFileDialog::new()
        .set_title("A photo or screenshot of the other computer's code")
        .add_filter("Pictures (PNG, JPEG)", &["png", "jpg", "jpeg"])
        .pick_file()
        .await
        .map(|f| f.path().to_path_buf())
}

/// Reads the code in a picture file, off the window's thread.
fn read(path: PathBuf) -> Task<Msg> {
    Task::perform(
        async move {
            tokio::task::spawn_blocking(move || qr::read_file(&path))
                .await
                .map_err(|e| format!("reading the picture failed: {e}"))
                .and_then(|r| r.map_err(|e| e.to_string()))
        },
        |r| match r {
            Ok(link) => Msg::Found(link),
            Err(why) => Msg::Refused(why),
        },
    )
}

/// What was typed, pasted or scanned: a pairing link, or an address and a device ID.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Typed {
    Link(PairingLink),
    Direct(SocketAddr, DeviceId),
}

fn parse_typed(typed: &str) -> Result<Typed, String> {
    let typed = typed.trim();
    if typed.is_empty() {
        return Err(
            "Paste the other computer's pairing link, or type its address and device ID.".into(),
        );
    }
    let (first, rest) = typed.split_once(char::is_whitespace).unwrap_or((typed, ""));
    if let Ok(address) = first.parse::<SocketAddr>() {
        return DeviceId::parse(rest.trim())
            .map(|id| Typed::Direct(address, id))
            .map_err(|e| format!("That device ID is not right: {e}"));
    }
    PairingLink::parse(typed)
        .map(Typed::Link)
        .map_err(|e| e.to_string())
}

/// Pairs through a link: which address answers with the link's ID, then the same pairing as
/// an address and ID typed on the Computers screen.
async fn hand_over(node: Arc<Node>, link: PairingLink) -> Result<String, String> {
    let address = join::reach(&node.identity, &link)
        .await
        .map_err(|e| e.to_string())?;
    peers::pair(node, address, link.id, link.name).await
}

fn begin(s: &mut Scan, progress: String) {
    s.stop_camera();
    s.problem = None;
    s.hint = None;
    s.progress = Some(progress);
}

impl Scan {
    /// Whether this computer is in a clinic with others already, so pairing with `other`
    /// trusts it clinic-wide at once.
    fn in_clinic(&self, other: DeviceId) -> bool {
        let Some(node) = &self.node else {
            return false;
        };
        let me = node.identity.id;
        node.store
            .reader()
            .ok()
            .and_then(|db| roster::members(&db).ok())
            .is_some_and(|ms| ms.iter().any(|m| m.id != me && m.id != other && !m.revoked))
    }

    /// Pairs through a code, or first asks, when the computer would join a whole clinic.
    fn pair_or_ask(&mut self, code: Typed) -> Task<Msg> {
        let other = match &code {
            Typed::Link(link) => link.id,
            Typed::Direct(_, id) => *id,
        };
        if self.in_clinic(other) {
            self.stop_camera();
            self.problem = None;
            self.confirm = Some(code);
            return Task::none();
        }
        self.pair(code)
    }

    fn pair(&mut self, code: Typed) -> Task<Msg> {
        let Some(node) = self.node.clone() else {
            return Task::none();
        };
        match code {
            Typed::Link(link) => {
                begin(
                    self,
                    format!("Read the code of {}. Connecting…", link.from_whom()),
                );
                Task::perform(hand_over(node, link), Msg::Outcome)
            }
            Typed::Direct(address, id) => {
                begin(self, format!("Connecting to {address}…"));
                Task::perform(peers::pair(node, address, id, String::new()), Msg::Outcome)
            }
        }
    }

    pub fn update(&mut self, msg: Msg) -> (Task<Msg>, Option<Event>) {
        let busy = self.progress.is_some();
        match msg {
            Msg::Frame(frame) => {
                if let Live::Watching(shown) = &mut self.live {
                    *shown = Some(frame);
                }
            }
            Msg::CameraOff(why) => {
                if matches!(self.live, Live::Watching(_)) {
                    self.live = Live::Unavailable(why);
                }
            }
            Msg::Refused(why) => {
                if !busy {
                    self.problem = Some(why);
                }
            }
            Msg::Found(link) => {
                if busy || self.handed_over {
                    return (Task::none(), None);
                }
                return (self.pair_or_ask(Typed::Link(link)), None);
            }
            Msg::Confirm => {
                if let Some(code) = self.confirm.take() {
                    return (self.pair(code), None);
                }
            }
            Msg::ScanAgain => {
                self.stop_camera();
                self.live = Live::Idle;
                self.problem = None;
                self.handed_over = false;
                self.confirm = None;
                return (self.start(), None);
            }
            Msg::Pick if !crate::dialogs::available() => {
                self.hint = Some(crate::dialogs::NONE.into())
            }
            Msg::Pick => return (Task::perform(pick(), Msg::Picked), None),
            Msg::Picked(None) => {
                self.hint = Some(
                    "No picture was chosen. If no window opened, type the picture's path below."
                        .into(),
                );
            }
            Msg::Picked(Some(path)) => {
                self.hint = None;
                self.path = path.display().to_string();
                return (read(path), None);
            }
            Msg::Path(p) => self.path = p,
            Msg::OpenPath => {
                let path = self.path.trim();
                if path.is_empty() {
                    self.problem =
                        Some("Type where the picture is, for example /home/me/code.png".into());
                    return (Task::none(), None);
                }
                return (read(PathBuf::from(path)), None);
            }
            Msg::Typed(t) => self.typed = t,
            Msg::SubmitTyped => {
                if busy || self.node.is_none() {
                    return (Task::none(), None);
                }
                match parse_typed(&self.typed) {
                    Err(why) => self.problem = Some(why),
                    Ok(code) => return (self.pair_or_ask(code), None),
                }
            }
            Msg::Outcome(outcome) => {
                self.progress = None;
                match outcome {
                    // Shown here, beside what was scanned, rather than in the bar at the top.
                    Err(why) => self.problem = Some(why),
                    Ok(done) => {
                        self.handed_over = true;
                        return (Task::none(), Some(Event::Notice(done)));
                    }
                }
            }
            Msg::Back => return (Task::none(), Some(Event::Back)),
        }
        (Task::none(), None)
    }
}

/// The frame to aim at: a light square border over the picture.
fn aim(theme: &Theme) -> container::Style {
    let p = theme.extended_palette();
    container::Style::default().border(border::rounded(12).color(p.primary.base.color).width(4))
}

/// The camera's place on the screen when it shows no picture.
fn dark(_: &Theme) -> container::Style {
    container::Style::default()
        .background(Color::from_rgb8(0x22, 0x22, 0x22))
        .color(Color::WHITE)
        .border(border::rounded(8))
}

/// The picture's size on screen.
const PICTURE: (f32, f32) = (480.0, 360.0);

impl Scan {
    pub fn view(&self) -> Element<'_, Msg> {
        if self.node.is_none() {
            return text("This window runs without the network (started with --discovery off and no listener).").into();
        }
        let picture: Element<'_, Msg> = match &self.live {
            Live::Watching(Some(frame)) => stack![
                image(frame.clone())
                    .content_fit(ContentFit::Cover)
                    .width(Fill)
                    .height(Fill),
                center(container(text("")).width(220).height(220).style(aim)),
            ]
            .width(PICTURE.0)
            .height(PICTURE.1)
            .into(),
            Live::Watching(None) | Live::Idle => container(text("Starting the camera…"))
                .center(Fill)
                .width(PICTURE.0)
                .height(PICTURE.1)
                .style(dark)
                .into(),
            Live::Stopped => container(text("The camera is off."))
                .center(Fill)
                .width(PICTURE.0)
                .height(PICTURE.1)
                .style(dark)
                .into(),
            Live::Unavailable(why) => container(
                column![
                    text("The camera cannot be used").font(theme::BOLD).size(18),
                    text(capitalised(why)),
                    text("Use a photo or screenshot of the code, or type it, on the right."),
                ]
                .spacing(8)
                .max_width(400),
            )
            .center(Fill)
            .width(PICTURE.0)
            .height(PICTURE.1)
            .style(dark)
            .into(),
        };
        let again = match &self.live {
            Live::Unavailable(_) | Live::Stopped if self.progress.is_none() => Some(
                button(text("Try the camera again"))
                    .style(button::secondary)
                    .on_press(Msg::ScanAgain),
            ),
            _ => None,
        };
        let camera = column![
            text("Hold the other computer's code inside the frame.").size(14),
            picture,
            again,
        ]
        .spacing(8);
        let photo = column![
            text("From a picture").font(theme::BOLD).size(16),
            button(text("Open a photo or screenshot of the code")).on_press(Msg::Pick),
            self.hint.as_ref().map(|h| text(h.clone()).size(13)),
            text("Or type where the picture is:").size(13),
            row![
                text_input("/home/me/Pictures/front-desk-code.png", &self.path)
                    .on_input(Msg::Path)
                    .on_submit(Msg::OpenPath),
                button(text("Open")).on_press(Msg::OpenPath),
            ]
            .spacing(6),
        ]
        .spacing(6);
        let typed = column![
            text("Or type the code").font(theme::BOLD).size(16),
            text("Paste the pairing link (carebook://pair?…; the other computer's Computers screen copies it), or type its address and device ID:").size(13),
            row![
                text_input("carebook://pair?…  or  192.168.1.20:7462 ABCDEFG-…", &self.typed)
                    .on_input(Msg::Typed)
                    .on_submit(Msg::SubmitTyped),
                button(text("Pair")).on_press(Msg::SubmitTyped),
            ]
            .spacing(6),
        ]
        .spacing(6);
        let confirm = self.confirm.as_ref().map(|code| {
            let (who, id) = match code {
                Typed::Link(link) => (link.from_whom(), link.id),
                Typed::Direct(address, id) => (format!("the computer at {address}"), *id),
            };
            container(
                column![
                    text(format!(
                        "Adding {who}, device ID {id}: every computer of this clinic will trust it \
                         and share all patient records with it. Check that its screen shows this ID."
                    )),
                    row![
                        button(text("Add it to the clinic")).on_press(Msg::Confirm),
                        button(text("Cancel"))
                            .style(button::secondary)
                            .on_press(Msg::ScanAgain),
                    ]
                    .spacing(10),
                ]
                .spacing(8),
            )
            .padding(10)
            .width(Fill)
            .style(theme::notice)
        });
        let status = column![
            confirm,
            self.progress.as_ref().map(|p| text(p.clone())),
            self.problem.as_ref().map(|p| container(text(capitalised(p)))
                .padding([6, 10])
                .width(Fill)
                .style(theme::notice)),
            self.handed_over.then(|| row![
                text("Done here: the other computer now shows this one under \"Asking to join\"; press Accept there."),
                button(text("Back to Computers")).on_press(Msg::Back),
            ].spacing(10).align_y(Center)),
        ]
        .spacing(8);
        column![
            text("Scan the other computer's code")
                .font(theme::BOLD)
                .size(20),
            status,
            row![camera, column![photo, typed].spacing(24).width(Fill)].spacing(24),
        ]
        .spacing(14)
        .into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_codes_are_a_link_or_an_address_and_an_id() {
        let id = DeviceId::of_certificate(b"front desk");
        let address: SocketAddr = "192.168.1.20:7462".parse().unwrap();
        let link = PairingLink::new(id, &[address], "Front desk");
        assert_eq!(
            parse_typed(&format!("  {} ", link.to_uri())),
            Ok(Typed::Link(link))
        );
        assert_eq!(
            parse_typed(&format!("192.168.1.20:7462 {}", id.to_text())),
            Ok(Typed::Direct(address, id))
        );
        let err = parse_typed("192.168.1.20:7462 ABC").unwrap_err();
        assert!(err.starts_with("That device ID is not right"), "{err}");
        assert_eq!(
            parse_typed("https://example.org/"),
            Err("this code holds a web address, not a Carebook pairing code".into())
        );
        assert!(parse_typed("   ").is_err());
    }
}
