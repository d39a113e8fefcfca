//! The Peers screen: this computer's device ID (text to read aloud, and a QR code of its
//! pairing link: the ID with the addresses it listens on), pairing
//! with another computer, requests to join waiting for acceptance, and the clinic's computers
//! with how each is connected, with removal for a lost or stolen one.

use std::net::SocketAddr;
use std::sync::Arc;

use carebook_sync::clinic::access::{self, Permission};
use carebook_sync::clinic::Actor;
use carebook_sync::identity::DeviceId;
use carebook_sync::net::members::{self, Acceptance, Pairing, Removal};
use carebook_sync::net::node::Node;
use carebook_sync::net::roster::{self, HeldBack, LongAway, Member, Request};
use carebook_sync::pairing::pairing_link::PairingLink;
use carebook_sync::store::{CrrConnection, Store};
use iced::widget::{button, column, container, qr_code, row, scrollable, text, text_input};
use iced::{Center, Element, Fill, Font, Task};

use crate::context::Context;
use crate::nav::{self, Event, Route};
use crate::theme;

/// A member with the node's notes on it.
#[derive(Debug, Clone)]
pub struct Line {
    pub member: Member,
    pub state: String,
    pub last_contact: i64,
    pub detail: String,
}

/// What the screen shows, read in one go.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub lines: Vec<Line>,
    pub requests: Vec<Request>,
    /// Changes from computers with a newer schema, waiting for this one to be updated.
    pub held_back: Vec<HeldBack>,
    /// Trusted computers away for long (old deletions are kept for them).
    pub long_away: Vec<LongAway>,
    /// This computer's pairing link, as the code shows it.
    pub link: PairingLink,
}

/// Reads the screen; `port` is where this computer listens (for its pairing link).
pub fn load(db: &CrrConnection, me: &DeviceId, port: u16) -> Result<Loaded, String> {
    let read = || -> Result<Loaded, Box<dyn std::error::Error>> {
        let mut lines = Vec::new();
        for m in roster::members(db)? {
            let (state, last_contact, detail) = match roster::status(db, &m.id)? {
                Some(p) if p.state == "catching up" => (
                    format!("catching up ({} to send)", p.lag),
                    p.last_contact,
                    p.detail,
                ),
                Some(p) => (p.state, p.last_contact, p.detail),
                None => ("never seen".into(), 0, String::new()),
            };
            lines.push(Line {
                member: m,
                state,
                last_contact,
                detail,
            });
        }
        Ok(Loaded {
            link: PairingLink::of_this_computer(db, *me, port)?,
            held_back: roster::held_back(db)?,
            long_away: roster::long_away(db, me, chrono::Utc::now().timestamp())?,
            lines,
            requests: roster::requests(db)?,
        })
    };
    read().map_err(|e| e.to_string())
}

/// This computer on the network, as the screen shows it.
#[derive(Debug, Clone)]
pub struct Here {
    pub node: Arc<Node>,
    pub port: u16,
}

#[derive(Debug, Default)]
pub struct Peers {
    /// None when the window runs without the network.
    pub here: Option<Here>,
    pub data: Option<Loaded>,
    pub address: String,
    pub id: String,
    pub qr: Option<qr_code::Data>,
    pub confirm_remove: Option<DeviceId>,
    /// The computer about to be added clinic-wide, shown for a second press of Pair.
    pub confirm_pair: Option<(SocketAddr, DeviceId)>,
}

#[derive(Debug, Clone)]
pub enum Msg {
    Loaded(Result<Box<Loaded>, String>),
    /// A pairing, accept or removal finished: what to tell the person.
    Outcome(Result<String, String>),
    Written(Result<(), String>),
    Scan,
    Address(String),
    Id(String),
    Pair,
    CopyLink,
    Accept(DeviceId),
    Remove(DeviceId),
}

fn when(at: i64) -> String {
    if at == 0 {
        return String::new();
    }
    crate::clock::local(at, crate::clock::MINUTE)
}

impl Peers {
    pub fn view(&self) -> Element<'_, Msg> {
        let Some(Here { node, port }) = &self.here else {
            return text("This window runs without the network (started with --discovery off and no listener).").into();
        };
        let me = node.identity.id;
        let qr = self.qr.as_ref().map(|d| {
            column![
                qr_code(d).cell_size(4),
                button(text("Copy the pairing link").size(13))
                    .style(button::secondary)
                    .on_press(Msg::CopyLink),
            ]
            .spacing(6)
            .align_x(Center)
        });
        let this = column![
            text("This computer").font(theme::BOLD).size(20),
            text(format!("Listening on port {port}")),
            text("Device ID (read it to the person at the other computer, or let them scan the code):"),
            text(me.to_text()).font(Font::MONOSPACE).size(18),
            text(format!("Private key: {}", node.identity.storage)).size(13),
        ]
        .spacing(6);
        let pair = column![
            text("Join another computer").font(theme::BOLD).size(20),
            row![
                button(text("Scan the other computer's code")).on_press(Msg::Scan),
                text("with this computer's camera, or from a photo or screenshot of it").size(13),
            ]
            .spacing(10)
            .align_y(Center),
            text("Or type the other computer's address and the device ID its screen shows:"),
            row![
                text_input("192.168.1.20:7462", &self.address)
                    .on_input(Msg::Address)
                    .width(200),
                text_input("its device ID", &self.id)
                    .on_input(Msg::Id)
                    .on_submit(Msg::Pair),
                button(text(if self.confirm_pair.is_some() {
                    "Add it to the clinic"
                } else {
                    "Pair"
                }))
                .on_press(Msg::Pair),
            ]
            .spacing(6),
        ]
        .spacing(6);
        let pair = match &self.confirm_pair {
            Some((address, other)) => pair.push(
                text(format!(
                    "Adding the computer {other} at {address}: every computer of this clinic will \
                     trust it and share all patient records with it. Check that its screen shows \
                     this ID, then press \"Add it to the clinic\"."
                ))
                .size(13),
            ),
            None => pair,
        };
        let mut body = column![
            row![this.width(Fill), container(qr)]
                .spacing(20)
                .align_y(Center),
            pair
        ]
        .spacing(18);
        if let Some(d) = &self.data {
            if !d.requests.is_empty() {
                let mut list = column![text("Asking to join this clinic")
                    .font(theme::BOLD)
                    .size(20)]
                .spacing(6);
                for r in &d.requests {
                    list = list.push(
                        row![
                            text(format!("{}  ·  {}  ·  {}", r.name, r.address, r.id))
                                .font(Font::MONOSPACE)
                                .size(13),
                            button(text("Accept")).on_press(Msg::Accept(r.id)),
                        ]
                        .spacing(8)
                        .align_y(Center),
                    );
                }
                body = body.push(container(list).padding(10).width(Fill).style(theme::notice));
            }
            if !d.held_back.is_empty() {
                let mut held = column![text(
                    "Changes from computers running a newer Carebook wait here until this one is updated; nothing is lost:"
                )]
                .spacing(2);
                for h in &d.held_back {
                    held = held.push(text(format!("    {h}")).size(13));
                }
                body = body.push(container(held).padding(8).style(theme::notice));
            }
            for away in &d.long_away {
                body = body.push(
                    container(text(format!("Warning: {away}.")))
                        .padding(8)
                        .style(theme::notice),
                );
            }
            let mut list =
                column![text("The clinic's computers").font(theme::BOLD).size(20)].spacing(4);
            for l in &d.lines {
                let m = &l.member;
                let (state, action) = if m.id == me {
                    ("this computer".to_string(), None)
                } else if m.revoked {
                    ("removed".to_string(), None)
                } else {
                    let label = if self.confirm_remove == Some(m.id) {
                        "Really remove? It will be refused everywhere"
                    } else {
                        "Remove"
                    };
                    (
                        l.state.clone(),
                        Some(
                            button(text(label).size(13))
                                .style(button::danger)
                                .on_press(Msg::Remove(m.id)),
                        ),
                    )
                };
                list = list.push(
                    row![
                        text(if m.name.is_empty() {
                            m.id.short()
                        } else {
                            m.name.clone()
                        })
                        .font(theme::BOLD)
                        .width(160),
                        text(m.id.short()).font(Font::MONOSPACE).width(90),
                        text(state).width(110),
                        text(when(l.last_contact)).width(140),
                        text(m.address.clone()).width(170),
                        action,
                    ]
                    .spacing(8)
                    .align_y(Center),
                );
                if !l.detail.is_empty() && !m.revoked {
                    list =
                        list.push(text(format!("    last session ended: {}", l.detail)).size(12));
                }
            }
            body = body.push(list);
        }
        scrollable(body).height(Fill).into()
    }
}

impl Peers {
    /// Takes what was read; the code is drawn again only when the link changed.
    pub fn loaded(&mut self, data: Loaded) {
        if self.data.as_ref().map(|d| &d.link) != Some(&data.link) {
            // The code to scan: the pairing link, so one scan tells whom to trust and where
            // to connect.
            self.qr = qr_code::Data::new(data.link.to_uri()).ok();
        }
        self.data = Some(data);
    }
}

/// Whether the person at the keyboard may change the clinic's computers (the library decides,
/// from the staff list as it is now).
fn allowed(store: &Store, actor: Option<&Actor>) -> Result<(), String> {
    access::require_once_staffed(&store.writer(), actor, Permission::Computers)
        .map_err(|e| e.to_string())
}

/// The pairing attempt, as a person reads it: trust `other` (named `name`, when its pairing
/// code said) and ask it at `address` to accept this computer. The Scan view hands over here
/// too, once the code's address has answered with the code's ID. Ok is what to tell the
/// person; Err why it failed.
pub async fn pair(
    node: Arc<Node>,
    address: SocketAddr,
    other: DeviceId,
    name: String,
) -> Result<String, String> {
    match members::pair(&node, address, other, &name).await {
        Ok(Pairing::Requested { reply }) => {
            Ok(format!("Asked {address} to accept this computer: {reply}"))
        }
        Ok(Pairing::AlreadyMember) => Ok(format!("Paired with {}", other.short())),
        Ok(Pairing::Refused { reason }) => Err(format!("{address} refused: {reason}")),
        Ok(Pairing::Unreachable { reason }) => Err(format!("pairing with {address}: {reason}")),
        Err(e) => Err(format!("pairing with {address}: {e}")),
    }
}

impl Peers {
    /// The screen for this computer's node (None without the network); the task reads it.
    pub fn open(ctx: &Context) -> (Peers, Task<Msg>) {
        let peers = Peers {
            here: ctx.node.map(|node| Here {
                node: node.clone(),
                port: ctx.listen_port,
            }),
            ..Peers::default()
        };
        let task = peers.refresh(ctx);
        (peers, task)
    }

    /// Reads the roster and the connections again.
    pub fn refresh(&self, ctx: &Context) -> Task<Msg> {
        let Some(Here { node, port }) = &self.here else {
            return Task::none();
        };
        let (me, port) = (node.identity.id, *port);
        ctx.runner
            .read(move |db| load(db, &me, port).map(Box::new))
            .map(Msg::Loaded)
    }

    pub fn update(&mut self, msg: Msg, ctx: &Context) -> (Task<Msg>, Option<Event>) {
        let notice = |n: String| (Task::none(), Some(Event::Notice(n)));
        match msg {
            Msg::Loaded(Ok(d)) => self.loaded(*d),
            Msg::Loaded(Err(e)) | Msg::Outcome(Err(e)) => return notice(e),
            Msg::Outcome(Ok(n)) => return notice(n),
            Msg::Written(r) => return (Task::none(), nav::written(r.map(|()| None))),
            Msg::Scan => return (Task::none(), Some(Event::Open(Route::Scan))),
            Msg::Address(v) => {
                self.address = v;
                self.confirm_pair = None;
            }
            Msg::Id(v) => {
                self.id = v;
                self.confirm_pair = None;
            }
            Msg::Pair => {
                let Some(here) = &self.here else {
                    return (Task::none(), None);
                };
                let Ok(address) = self.address.trim().parse::<SocketAddr>() else {
                    return notice("The address must look like 192.168.1.20:7462".into());
                };
                let other = match DeviceId::parse(&self.id) {
                    Ok(id) => id,
                    Err(e) => return notice(format!("That device ID is not right: {e}")),
                };
                // In a clinic already, the new computer is trusted clinic-wide at once: say
                // which one it is and ask for a second press.
                let me = here.node.identity.id;
                let in_clinic = self.data.as_ref().is_some_and(|d| {
                    d.lines
                        .iter()
                        .any(|l| l.member.id != me && l.member.id != other && !l.member.revoked)
                });
                if in_clinic && self.confirm_pair != Some((address, other)) {
                    self.confirm_pair = Some((address, other));
                    return (Task::none(), None);
                }
                self.confirm_pair = None;
                let task = Task::perform(
                    pair(here.node.clone(), address, other, String::new()),
                    Msg::Outcome,
                );
                return (task, None);
            }
            Msg::CopyLink => {
                let Some(d) = &self.data else {
                    return (Task::none(), None);
                };
                return (
                    iced::clipboard::write(d.link.to_uri()),
                    Some(Event::Notice(
                        "The pairing link is copied. Paste it into the other computer's Scan view (it holds no patient data).".into(),
                    )),
                );
            }
            Msg::Accept(id) => {
                let actor = ctx.actor();
                let task = ctx.runner.spawn(move |store| {
                    if let Err(e) = allowed(store, actor.as_ref()) {
                        return Msg::Written(Err(e));
                    }
                    Msg::Written(match members::accept(store, &id) {
                        Ok(Acceptance::Accepted) => Ok(()),
                        Ok(Acceptance::NotFound) => {
                            Err("That computer is no longer asking to join".into())
                        }
                        Ok(Acceptance::Removed) => Err(
                            "That computer was removed from the clinic and cannot be accepted again"
                                .into(),
                        ),
                        Err(e) => Err(e.to_string()),
                    })
                });
                return (task, None);
            }
            Msg::Remove(id) => {
                if self.confirm_remove != Some(id) {
                    self.confirm_remove = Some(id);
                    return (Task::none(), None);
                }
                self.confirm_remove = None;
                let actor = ctx.actor();
                let task = ctx.runner.spawn(move |store| {
                    if let Err(e) = allowed(store, actor.as_ref()) {
                        return Msg::Written(Err(e));
                    }
                    Msg::Written(match members::remove(store, &id) {
                        Ok(Removal::Removed) => Ok(()),
                        Ok(Removal::NotFound) => Err("That computer was removed already".into()),
                        Err(e) => Err(e.to_string()),
                    })
                });
                return (task, None);
            }
        }
        (Task::none(), None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_code_carries_the_pairing_link_of_this_computer() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(
            carebook_sync::store::Store::open(
                &dir.path().join("carebook.db"),
                carebook_sync::store::schema::CLINIC,
            )
            .unwrap(),
        );
        let identity = carebook_sync::identity::Identity::load_or_create_with(
            dir.path(),
            carebook_sync::identity::Keyring::Off,
        )
        .unwrap();
        carebook_sync::clinic::profile::ensure(&store.writer(), "Riverside Practice").unwrap();
        let node = Node::new(identity, store, "Front desk").unwrap();
        let loaded = load(&node.store.reader().unwrap(), &node.identity.id, 7462).unwrap();
        let link = PairingLink::parse(&loaded.link.to_uri()).unwrap();
        assert_eq!(link.id, node.identity.id);
        assert_eq!(link.name, "Front desk");
        assert_eq!(link.clinic, "Riverside Practice");
        assert_eq!(
            link.addresses.last(),
            Some(&"127.0.0.1:7462".parse().unwrap())
        );
        let mut screen = Peers::default();
        screen.loaded(loaded);
        assert!(screen.qr.is_some());
    }
}
