//! The pairing link a computer shows as a QR code: whom to trust (its device ID) and where to
//! reach it (the addresses it listens on), plus its clinic's name and its own to show, as a
//! versioned, checksummed `carebook://pair?v=1&id=..&addr=..&clinic=..&name=..&c=..` URI, so
//! one scan is enough even where mDNS is blocked.
//!
//! The checksum catches a misread or edited link; it is not a signature. Trust comes only from
//! the TLS handshake, which must present the link's ID (see [`crate::pairing::join`]).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use sha2::{Digest, Sha256};

use crate::identity::{DeviceId, IdError};
use crate::pairing::base32;

/// The start of every pairing link.
pub const PREFIX: &str = "carebook://pair?";
/// The link format this build writes and reads.
pub const VERSION: &str = "1";
/// The most characters a link may have: room for the most addresses and a name in any script
/// (a typical link has about 150 and makes a small code).
pub const MAX_LINK_CHARS: usize = 1500;
/// The most addresses a link carries.
pub const MAX_ADDRESSES: usize = 8;
/// The most characters of the computer's name a link carries.
pub const MAX_NAME_CHARS: usize = 60;
const CHECK_BYTES: usize = 5;

/// A computer's invitation to pair with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PairingLink {
    /// The device ID the other computer must present during the TLS handshake.
    pub id: DeviceId,
    /// Where it listens, the likeliest first.
    pub addresses: Vec<SocketAddr>,
    /// Its name as the clinic knows it ("Front desk"); may be empty.
    pub name: String,
    /// The name of its clinic ("Riverside Family Practice"); may be empty (not set up yet).
    pub clinic: String,
}

/// What a scanned code holds instead of a Carebook pairing link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Foreign {
    WebAddress,
    Other,
}

/// Why a scanned or pasted link was refused. The messages never repeat the code's content.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    #[error("{}", match .0 {
        Foreign::WebAddress => "this code holds a web address, not a Carebook pairing code",
        Foreign::Other => "this code is not a Carebook pairing code (it may belong to another app)",
    })]
    NotCarebook(Foreign),
    #[error("this pairing code is too long to be a Carebook pairing code")]
    TooLong,
    #[error(
        "this pairing code was made by a newer Carebook (link version {0}); update this computer"
    )]
    UnsupportedVersion(String),
    #[error("this pairing code is damaged or was changed ({0}); scan it again or type the ID")]
    Damaged(&'static str),
    #[error("the device ID in this pairing code is not right: {0}")]
    BadId(IdError),
    #[error("an address in this pairing code is not right")]
    BadAddress,
}

/// Bytes written as they are; every other byte is percent-encoded.
const PLAIN: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b':');

fn encode(text: &str) -> String {
    utf8_percent_encode(text, PLAIN).to_string()
}

/// A field's text. Unlike the decoder, which passes a broken escape through as it is, a `%`
/// not followed by two hexadecimal digits is refused, and so are bytes that are not UTF-8.
fn decode(text: &str) -> Result<String, LinkError> {
    let broken = text.split('%').skip(1).any(|after| {
        after
            .as_bytes()
            .get(..2)
            .is_none_or(|hex| !hex.iter().all(u8::is_ascii_hexdigit))
    });
    if broken {
        return Err(LinkError::Damaged("a broken %-escape"));
    }
    percent_decode_str(text)
        .decode_utf8()
        .map(|t| t.into_owned())
        .map_err(|_| LinkError::Damaged("text that is not UTF-8"))
}

/// The checksum over the fields as they read after %-decoding.
fn checksum(version: &str, id: &str, addresses: &str, clinic: &str, name: &str) -> String {
    let mut h = Sha256::new();
    for field in ["carebook-pair", version, id, addresses, clinic, name] {
        h.update((field.len() as u32).to_be_bytes());
        h.update(field.as_bytes());
    }
    base32::encode(&h.finalize()[..CHECK_BYTES])
}

fn join_addresses(addresses: &[SocketAddr]) -> String {
    addresses
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

/// A name as a link carries it: no control characters, at most [`MAX_NAME_CHARS`].
fn clean(name: &str) -> String {
    name.chars()
        .filter(|c| !c.is_control())
        .take(MAX_NAME_CHARS)
        .collect()
}

impl PairingLink {
    /// A link with the name cleaned (no control characters, at most [`MAX_NAME_CHARS`]) and
    /// at most [`MAX_ADDRESSES`] distinct addresses, in the order given.
    pub fn new(id: DeviceId, addresses: &[SocketAddr], name: &str) -> PairingLink {
        let mut unique: Vec<SocketAddr> = Vec::new();
        for a in addresses {
            if !unique.contains(a) && unique.len() < MAX_ADDRESSES {
                unique.push(*a);
            }
        }
        PairingLink {
            id,
            addresses: unique,
            name: clean(name),
            clinic: String::new(),
        }
    }

    /// Who the link is from, as a person reads it: "Front desk (ABCDEFG) of Riverside
    /// Practice", or as much of that as the link names.
    pub fn from_whom(&self) -> String {
        let mut who = if self.name.is_empty() {
            format!("computer {}", self.id.short())
        } else {
            format!("{} ({})", self.name, self.id.short())
        };
        if !self.clinic.is_empty() {
            who.push_str(&format!(" of {}", self.clinic));
        }
        who
    }

    /// The same link naming its clinic (cleaned as the name is).
    pub fn with_clinic(mut self, clinic: &str) -> PairingLink {
        self.clinic = clean(clinic);
        self
    }

    /// The link for this computer listening on `port`: its IPv4 addresses on the local
    /// network, then 127.0.0.1 (for a second instance on the same computer).
    pub fn for_this_computer(id: DeviceId, port: u16, name: &str) -> PairingLink {
        let mut ips: Vec<IpAddr> = if_addrs::get_if_addrs()
            .unwrap_or_default()
            .into_iter()
            .map(|i| i.ip())
            .filter(|ip| ip.is_ipv4() && !ip.is_loopback() && !ip.is_unspecified())
            .collect();
        ips.sort();
        ips.truncate(MAX_ADDRESSES - 1);
        ips.push(IpAddr::V4(Ipv4Addr::LOCALHOST));
        let addresses: Vec<SocketAddr> = ips.into_iter().map(|ip| (ip, port).into()).collect();
        PairingLink::new(id, &addresses, name)
    }

    /// This computer's link as its database knows it: its name on the clinic's roster and the
    /// clinic's name, with the addresses it listens on (`port`).
    pub fn of_this_computer(
        db: &rusqlite::Connection,
        me: DeviceId,
        port: u16,
    ) -> rusqlite::Result<PairingLink> {
        let name = crate::net::roster::members(db)?
            .into_iter()
            .find(|m| m.id == me)
            .map(|m| m.name)
            .unwrap_or_default();
        let clinic = crate::clinic::profile::current(db)?
            .map(|c| c.name)
            .unwrap_or_default();
        Ok(PairingLink::for_this_computer(me, port, &name).with_clinic(&clinic))
    }

    /// The URI, e.g. `carebook://pair?v=1&id=...&addr=192.168.1.20:7462&name=Front%20desk&c=...`.
    pub fn to_uri(&self) -> String {
        let id = self.id.to_text();
        let addresses = join_addresses(&self.addresses);
        let check = checksum(VERSION, &id, &addresses, &self.clinic, &self.name);
        format!(
            "{PREFIX}v={VERSION}&id={}&addr={}&clinic={}&name={}&c={check}",
            encode(&id),
            encode(&addresses),
            encode(&self.clinic),
            encode(&self.name)
        )
    }

    /// Reads a link, refusing anything that is not an intact Carebook pairing link of a
    /// version this build knows.
    pub fn parse(text: &str) -> Result<PairingLink, LinkError> {
        let text = text.trim();
        let head = text.get(..PREFIX.len()).unwrap_or_default();
        if !head.eq_ignore_ascii_case(PREFIX) {
            let lower = text.to_ascii_lowercase();
            let web = ["http://", "https://", "www."]
                .iter()
                .any(|p| lower.starts_with(p));
            return Err(LinkError::NotCarebook(if web {
                Foreign::WebAddress
            } else {
                Foreign::Other
            }));
        }
        if text.chars().count() > MAX_LINK_CHARS {
            return Err(LinkError::TooLong);
        }
        let (mut v, mut id, mut addr, mut clinic, mut name, mut check) =
            (None, None, None, None, None, None);
        for pair in text[PREFIX.len()..].split('&') {
            let (key, value) = pair
                .split_once('=')
                .ok_or(LinkError::Damaged("a field without a value"))?;
            let slot = match key {
                "v" => &mut v,
                "id" => &mut id,
                "addr" => &mut addr,
                "clinic" => &mut clinic,
                "name" => &mut name,
                "c" => &mut check,
                _ => return Err(LinkError::Damaged("a field this version does not have")),
            };
            if slot.replace(value).is_some() {
                return Err(LinkError::Damaged("a field given twice"));
            }
        }
        let v = decode(v.ok_or(LinkError::Damaged("no version"))?)?;
        if v != VERSION {
            return Err(LinkError::UnsupportedVersion(
                v.chars()
                    .filter(char::is_ascii_alphanumeric)
                    .take(8)
                    .collect(),
            ));
        }
        let missing = LinkError::Damaged("a field is missing");
        let id = decode(id.ok_or(missing.clone())?)?;
        let addr = decode(addr.ok_or(missing.clone())?)?;
        let name = decode(name.ok_or(missing.clone())?)?;
        let clinic = decode(clinic.ok_or(missing.clone())?)?;
        let check = check.ok_or(missing)?;
        if check != checksum(&v, &id, &addr, &clinic, &name) {
            return Err(LinkError::Damaged("the checksum does not match"));
        }
        let id = DeviceId::parse(&id).map_err(LinkError::BadId)?;
        let addresses = addr
            .split(',')
            .map(|a| a.parse::<SocketAddr>().map_err(|_| LinkError::BadAddress))
            .collect::<Result<Vec<_>, _>>()?;
        if addresses.len() > MAX_ADDRESSES || addresses.iter().any(|a| a.port() == 0) {
            return Err(LinkError::BadAddress);
        }
        for n in [&name, &clinic] {
            if n.chars().count() > MAX_NAME_CHARS || n.chars().any(char::is_control) {
                return Err(LinkError::Damaged(
                    "a name that is too long or has control characters",
                ));
            }
        }
        Ok(PairingLink {
            id,
            addresses,
            name,
            clinic,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn link() -> PairingLink {
        PairingLink::new(
            DeviceId::of_certificate(b"front desk"),
            &[
                "192.168.1.20:7462".parse().unwrap(),
                "[fe80::1]:7462".parse().unwrap(),
                "127.0.0.1:7462".parse().unwrap(),
            ],
            "Réception & co = 100%",
        )
        .with_clinic("Clinique du Lac")
    }

    #[test]
    fn a_link_round_trips_and_reads_as_a_uri() {
        let l = link();
        let uri = l.to_uri();
        assert!(uri.starts_with("carebook://pair?v=1&id="), "{uri}");
        assert!(uri.contains("addr=192.168.1.20:7462%2C%5Bfe80::1%5D:7462%2C127.0.0.1:7462"));
        assert!(uri.contains(
            "clinic=Clinique%20du%20Lac&name=R%C3%A9ception%20%26%20co%20%3D%20100%25&c="
        ));
        assert_eq!(PairingLink::parse(&uri).unwrap(), l);
        assert_eq!(PairingLink::parse(&format!("  {uri}\n")).unwrap(), l);
        let upper_scheme = uri.replacen("carebook://pair", "CareBook://PAIR", 1);
        assert_eq!(PairingLink::parse(&upper_scheme).unwrap(), l);
        let empty = PairingLink::new(l.id, &l.addresses[..1], "");
        assert_eq!(PairingLink::parse(&empty.to_uri()).unwrap(), empty);
        let short = l.id.short();
        assert_eq!(
            l.from_whom(),
            format!("Réception & co = 100% ({short}) of Clinique du Lac")
        );
        assert_eq!(empty.from_whom(), format!("computer {short}"));
    }

    #[test]
    fn new_bounds_the_name_and_the_addresses() {
        let addrs: Vec<SocketAddr> = (1..=12)
            .map(|p| SocketAddr::from(([10, 0, 0, 1], 7000 + p)))
            .chain(["10.0.0.1:7001".parse().unwrap()])
            .collect();
        let l = PairingLink::new(link().id, &addrs, &format!("a\nb{}", "x".repeat(100)));
        assert_eq!(l.addresses, addrs[..MAX_ADDRESSES]);
        assert_eq!(l.name.chars().count(), MAX_NAME_CHARS);
        assert!(l.name.starts_with("abx"));
        assert_eq!(PairingLink::parse(&l.to_uri()).unwrap(), l);
    }

    #[test]
    fn this_computer_is_reachable_on_loopback_last() {
        let l = PairingLink::for_this_computer(link().id, 7462, "Front desk");
        assert_eq!(l.addresses.last(), Some(&"127.0.0.1:7462".parse().unwrap()));
        assert!(l.addresses.iter().all(|a| a.port() == 7462 && a.is_ipv4()));
    }

    #[test]
    fn foreign_codes_are_refused_by_kind() {
        for web in [
            "https://example.org/pair?id=1",
            "HTTP://x.y",
            "www.example.org",
        ] {
            assert_eq!(
                PairingLink::parse(web),
                Err(LinkError::NotCarebook(Foreign::WebAddress))
            );
        }
        for other in [
            "WIFI:S:clinic;T:WPA;P:secret;;",
            "hello",
            "",
            "carebook://backup?v=1",
        ] {
            assert_eq!(
                PairingLink::parse(other),
                Err(LinkError::NotCarebook(Foreign::Other))
            );
        }
        let msg = PairingLink::parse("WIFI:S:clinic;P:secret;;")
            .unwrap_err()
            .to_string();
        assert!(
            !msg.contains("secret"),
            "the content is never repeated: {msg}"
        );
    }

    #[test]
    fn tampered_or_damaged_links_are_refused() {
        let uri = link().to_uri();
        // Every single-character change is caught.
        for i in PREFIX.len()..uri.len() {
            let mut bytes = uri.clone().into_bytes();
            bytes[i] = if bytes[i] == b'7' { b'8' } else { b'7' };
            let changed = String::from_utf8(bytes).unwrap();
            assert!(
                PairingLink::parse(&changed).is_err(),
                "a change at {i} went unnoticed: {changed}"
            );
        }
        let id_changed = {
            let at = uri.find("id=").unwrap() + 3;
            let mut b = uri.clone().into_bytes();
            b[at] = if b[at] == b'A' { b'B' } else { b'A' };
            String::from_utf8(b).unwrap()
        };
        assert_eq!(
            PairingLink::parse(&id_changed),
            Err(LinkError::Damaged("the checksum does not match"))
        );
        let cut = &uri[..uri.len() - 3];
        assert!(matches!(
            PairingLink::parse(cut),
            Err(LinkError::Damaged(_))
        ));
        let no_check = &uri[..uri.find("&c=").unwrap()];
        assert_eq!(
            PairingLink::parse(no_check),
            Err(LinkError::Damaged("a field is missing"))
        );
        assert_eq!(
            PairingLink::parse(&format!("{uri}&x=1")),
            Err(LinkError::Damaged("a field this version does not have"))
        );
        assert_eq!(
            PairingLink::parse(&format!("{uri}&v=1")),
            Err(LinkError::Damaged("a field given twice"))
        );
        assert_eq!(
            PairingLink::parse(&uri.replace("name=R%C3", "name=R%G3")),
            Err(LinkError::Damaged("a broken %-escape"))
        );
        let long = format!("{uri}&pad={}", "x".repeat(MAX_LINK_CHARS));
        assert_eq!(PairingLink::parse(&long), Err(LinkError::TooLong));
    }

    #[test]
    fn malformed_escapes_and_non_utf8_text_are_refused() {
        let uri = link().to_uri();
        let start = uri.find("&name=").unwrap() + "&name=".len();
        let end = start + uri[start..].find('&').unwrap();
        let with_name = |raw: &str| format!("{}{raw}{}", &uri[..start], &uri[end..]);
        assert_eq!(PairingLink::parse(&with_name(&uri[start..end])), Ok(link()));
        for raw in ["R%zzception", "R%4", "R%", "%%41", "R%C3%A", "%4G", "100%"] {
            let refused = PairingLink::parse(&with_name(raw)).unwrap_err();
            assert_eq!(refused, LinkError::Damaged("a broken %-escape"), "{raw}");
            assert_eq!(
                refused.to_string(),
                "this pairing code is damaged or was changed (a broken %-escape); scan it again or type the ID"
            );
        }
        // Latin-1 "é", a lone continuation byte, a cut-off sequence: well-formed escapes of
        // bytes that are not UTF-8.
        for raw in ["R%E9ception", "%80", "R%C3", "%FF%FE"] {
            assert_eq!(
                PairingLink::parse(&with_name(raw)),
                Err(LinkError::Damaged("text that is not UTF-8")),
                "{raw}"
            );
        }
        // The escapes themselves are read in either case.
        assert_eq!(decode("caf%c3%a9%2C%2c").unwrap(), "café,,");
        assert_eq!(decode("").unwrap(), "");
    }

    #[test]
    fn newer_versions_are_named_and_fields_are_checked_after_the_checksum() {
        let uri = link().to_uri().replace("v=1&", "v=2&");
        assert_eq!(
            PairingLink::parse(&uri),
            Err(LinkError::UnsupportedVersion("2".into()))
        );
        // A well-formed checksum over a bad ID or address: refused for what is wrong.
        let forge = |id: &str, addr: &str| {
            format!(
                "{PREFIX}v=1&id={}&addr={}&clinic=&name=&c={}",
                encode(id),
                encode(addr),
                checksum("1", id, addr, "", "")
            )
        };
        assert!(matches!(
            PairingLink::parse(&forge("ABC", "127.0.0.1:1")),
            Err(LinkError::BadId(IdError::Length(3)))
        ));
        let id = link().id.to_text();
        assert_eq!(
            PairingLink::parse(&forge(&id, "nowhere")),
            Err(LinkError::BadAddress)
        );
        assert_eq!(
            PairingLink::parse(&forge(&id, "127.0.0.1:0")),
            Err(LinkError::BadAddress)
        );
        assert!(PairingLink::parse(&forge(&id, "127.0.0.1:1")).is_ok());
    }
}
