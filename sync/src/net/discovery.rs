//! Finding the clinic's computers on the local network with mDNS: each node announces
//! `_carebook._tcp.local.` with its device ID, protocol version and port. The announcement
//! holds nothing about the clinic or its patients. Clinic Wi-Fi often blocks multicast, so
//! addresses typed by hand and remembered in the roster work without it.

use std::collections::HashSet;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use mdns_sd::{IfKind, ServiceDaemon, ServiceEvent, ServiceInfo};

use crate::identity::DeviceId;
use crate::proto::PROTOCOL;

pub const SERVICE: &str = "_carebook._tcp.local.";

/// Where discovery may send and listen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// The machine's network interfaces (the clinic's LAN).
    Lan,
    /// Loopback only (tests, several instances on one machine).
    Loopback,
}

/// A computer found on the network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    pub id: DeviceId,
    pub protocol: u32,
    pub addresses: Vec<SocketAddr>,
}

#[derive(Debug, thiserror::Error)]
#[error("discovery on the local network is not available: {0}")]
pub struct DiscoveryError(String);

fn err(e: impl std::fmt::Display) -> DiscoveryError {
    DiscoveryError(e.to_string())
}

/// A running announcement and browser.
pub struct Discovery {
    daemon: ServiceDaemon,
    fullname: String,
    me: DeviceId,
}

impl Discovery {
    /// Announces this computer and starts listening for others.
    pub fn start(id: DeviceId, port: u16, scope: Scope) -> Result<Discovery, DiscoveryError> {
        let daemon = ServiceDaemon::new().map_err(err)?;
        if scope == Scope::Loopback {
            daemon.disable_interface(IfKind::All).map_err(err)?;
            daemon.enable_interface(IfKind::LoopbackV4).map_err(err)?;
        }
        let instance = id.to_text().replace('-', "")[..16].to_lowercase();
        let host = format!("carebook-{instance}.local.");
        let properties = [("id", id.to_text()), ("proto", PROTOCOL.to_string())];
        let info = match scope {
            Scope::Loopback => ServiceInfo::new(
                SERVICE,
                &instance,
                &host,
                "127.0.0.1",
                port,
                &properties[..],
            ),
            Scope::Lan => ServiceInfo::new(SERVICE, &instance, &host, "", port, &properties[..])
                .map(ServiceInfo::enable_addr_auto),
        }
        .map_err(err)?;
        let fullname = info.get_fullname().to_string();
        daemon.register(info).map_err(err)?;
        Ok(Discovery {
            daemon,
            fullname,
            me: id,
        })
    }

    /// Collects the other computers announced within `wait`.
    pub fn browse(&self, wait: Duration) -> Result<Vec<Found>, DiscoveryError> {
        let events = self.daemon.browse(SERVICE).map_err(err)?;
        let deadline = std::time::Instant::now() + wait;
        let mut found: Vec<Found> = Vec::new();
        let mut seen = HashSet::new();
        while let Some(left) = deadline.checked_duration_since(std::time::Instant::now()) {
            let Ok(event) = events.recv_timeout(left) else {
                break;
            };
            let ServiceEvent::ServiceResolved(info) = event else {
                continue;
            };
            let Some(id) = info
                .get_property_val_str("id")
                .and_then(|t| DeviceId::parse(t).ok())
            else {
                continue;
            };
            if id == self.me || !seen.insert(id) {
                continue;
            }
            let protocol = info
                .get_property_val_str("proto")
                .and_then(|p| p.parse().ok())
                .unwrap_or(0);
            let addresses = info
                .get_addresses_v4()
                .into_iter()
                .map(|ip| SocketAddr::new(IpAddr::V4(ip), info.get_port()))
                .collect();
            found.push(Found {
                id,
                protocol,
                addresses,
            });
        }
        let _ = self.daemon.stop_browse(SERVICE);
        Ok(found)
    }
}

impl Drop for Discovery {
    fn drop(&mut self) {
        let _ = self.daemon.unregister(&self.fullname);
        let _ = self.daemon.shutdown();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two computers on loopback find each other (never on the machine's real interfaces).
    #[test]
    fn computers_find_each_other_on_loopback() {
        let a = DeviceId::of_certificate(b"computer a");
        let b = DeviceId::of_certificate(b"computer b");
        let da = Discovery::start(a, 7001, Scope::Loopback).unwrap();
        let db = Discovery::start(b, 7002, Scope::Loopback).unwrap();
        let seen_by_b = db.browse(Duration::from_secs(4)).unwrap();
        let seen_by_a = da.browse(Duration::from_secs(2)).unwrap();
        let a_from_b = seen_by_b.iter().find(|f| f.id == a).expect("B found A");
        assert_eq!(a_from_b.protocol, PROTOCOL);
        assert!(
            a_from_b
                .addresses
                .contains(&"127.0.0.1:7001".parse().unwrap()),
            "{a_from_b:?}"
        );
        assert!(seen_by_a.iter().any(|f| f.id == b), "A found B");
        assert!(
            seen_by_b.iter().all(|f| f.id != b),
            "a computer does not list itself"
        );
    }
}
