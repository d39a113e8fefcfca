//! The Peers screen: this computer's device ID (text to read aloud, and a QR code of its
//! pairing link: the ID with the addresses it listens on), pairing
//! with another computer, requests to join waiting for acceptance, and the clinic's computers
//! with how each is connected, with removal for a lost or stolen one.

use std::net::SocketAddr;
use std::sync::Arc;

use carebook_sync::identity::DeviceId;
use carebook_sync::net::node::{Node, NodeError};
use carebook_sync::net::roster::{self, HeldBack, LongAway, Member, Request};
use carebook_sync::pairing::pairing_link::PairingLink;
use carebook_sync::replica::ReplicaError;
use carebook_sync::store::Store;
use iced::widget::{button, column, container, qr_code, row, scrollable, text, text_input};
use iced::{Center, Element, Fill, Font, Task};

use crate::app::{App, Message};
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
pub fn load(store: &Store, me: &DeviceId, port: u16) -> Result<Loaded, String> {
    let db = store.writer();
    let read = || -> Result<Loaded, Box<dyn std::error::Error>> {
        let mut lines = Vec::new();
        for m in roster::members(&db)? {
            let (state, last_contact, detail) = match roster::status(&db, &m.id)? {
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
            link: PairingLink::of_this_computer(&db, *me, port)?,
            held_back: roster::held_back(&db)?,
            long_away: roster::long_away(&db, me, chrono::Utc::now().timestamp())?,
            lines,
            requests: roster::requests(&db)?,
        })
    };
    read().map_err(|e| e.to_string())
}

#[derive(Debug, Default)]
pub struct Peers {
    pub data: Option<Loaded>,
    pub address: String,
    pub id: String,
    pub qr: Option<qr_code::Data>,
    pub confirm_remove: Option<DeviceId>,
}

#[derive(Debug, Clone)]
pub enum Msg {
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
    pub fn view<'a>(&'a self, app: &'a App) -> Element<'a, Message> {
        let msg = Message::Peers;
        let Some(node) = &app.node else {
            return text("This window runs without the network (started with --discovery off and no listener).").into();
        };
        let me = node.identity.id;
        let qr = self.qr.as_ref().map(|d| {
            column![
                qr_code(d).cell_size(4),
                button(text("Copy the pairing link").size(13))
                    .style(button::secondary)
                    .on_press(msg(Msg::CopyLink)),
            ]
            .spacing(6)
            .align_x(Center)
        });
        let this = column![
            text("This computer").font(theme::BOLD).size(20),
            text(format!("Listening on port {}", app.listen_port)),
            text("Device ID (read it to the person at the other computer, or let them scan the code):"),
            text(me.to_text()).font(Font::MONOSPACE).size(18),
            text(format!("Private key: {}", node.identity.storage)).size(13),
        ]
        .spacing(6);
        let pair = column![
            text("Join another computer").font(theme::BOLD).size(20),
            row![
                button(text("Scan the other computer's code"))
                    .on_press(Message::Go(crate::app::Route::Scan)),
                text("with this computer's camera, or from a photo or screenshot of it").size(13),
            ]
            .spacing(10)
            .align_y(Center),
            text("Or type the other computer's address and the device ID its screen shows:"),
            row![
                text_input("192.168.1.20:7462", &self.address)
                    .on_input(move |v| msg(Msg::Address(v)))
                    .width(200),
                text_input("its device ID", &self.id)
                    .on_input(move |v| msg(Msg::Id(v)))
                    .on_submit(msg(Msg::Pair)),
                button(text("Pair")).on_press(msg(Msg::Pair)),
            ]
            .spacing(6),
        ]
        .spacing(6);
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
                            button(text("Accept")).on_press(msg(Msg::Accept(r.id))),
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
                                .on_press(msg(Msg::Remove(m.id))),
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

/// The pairing attempt, as a person reads it: trust `other` (named `name`, when its pairing
/// code said) and ask it at `address` to accept this computer. The Scan view hands over here
/// too, once the code's address has answered with the code's ID.
pub(crate) async fn pair(
    node: Arc<Node>,
    address: SocketAddr,
    other: DeviceId,
    name: String,
) -> Message {
    let store = node.store.clone();
    let added = tokio::task::spawn_blocking(move || {
        roster::add(&store.writer(), &other, &name, &address.to_string())
    })
    .await;
    if let Err(e) = added
        .map_err(|e| e.to_string())
        .and_then(|r| r.map_err(|e| e.to_string()))
    {
        return Message::Failed(e);
    }
    let _ = node.refresh_roster().await;
    match tokio::time::timeout(
        std::time::Duration::from_secs(15),
        node.dial(address, other),
    )
    .await
    {
        Err(_) => Message::Failed(format!("no answer from {address}")),
        Ok(Err(NodeError::Replica(ReplicaError::Bye(reason)))) => {
            Message::Notice(format!("Asked {address} to accept this computer: {reason}"))
        }
        Ok(Err(e)) => Message::Failed(format!("pairing with {address}: {e}")),
        Ok(Ok(())) => Message::Notice(format!("Paired with {}", other.short())),
    }
}

pub fn update(app: &mut App, msg: Msg) -> Task<Message> {
    let Some(node) = app.node.clone() else {
        return Task::none();
    };
    let crate::app::Screen::Peers(p) = &mut app.screen else {
        return Task::none();
    };
    match msg {
        Msg::Address(v) => p.address = v,
        Msg::Id(v) => p.id = v,
        Msg::Pair => {
            let Ok(address) = p.address.trim().parse::<SocketAddr>() else {
                app.notice = Some("The address must look like 192.168.1.20:7462".into());
                return Task::none();
            };
            let other = match DeviceId::parse(&p.id) {
                Ok(id) => id,
                Err(e) => {
                    app.notice = Some(format!("That device ID is not right: {e}"));
                    return Task::none();
                }
            };
            return Task::perform(pair(node, address, other, String::new()), |m| m);
        }
        Msg::CopyLink => {
            app.notice = Some(
                "The pairing link is copied. Paste it into the other computer's Scan view (it holds no patient data).".into(),
            );
            return match &p.data {
                Some(d) => iced::clipboard::write(d.link.to_uri()),
                None => Task::none(),
            };
        }
        Msg::Accept(id) => {
            return app.runner.spawn(move |store| {
                let r = roster::accept(&store.writer(), &id).map_err(|e| e.to_string());
                Message::Done(r.map(|_| None))
            });
        }
        Msg::Remove(id) => {
            if p.confirm_remove != Some(id) {
                p.confirm_remove = Some(id);
                return Task::none();
            }
            p.confirm_remove = None;
            return app.runner.spawn(move |store| {
                let r = roster::revoke(&store.writer(), &id).map_err(|e| e.to_string());
                Message::Done(r.map(|_| None))
            });
        }
    }
    Task::none()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_code_carries_the_pairing_link_of_this_computer() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(
            Store::open(
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
        let loaded = load(&node.store, &node.identity.id, 7462).unwrap();
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
