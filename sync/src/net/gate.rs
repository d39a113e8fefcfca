//! Bounds on connections that have not proved who they are yet: so many in all and so many
//! from one address, each holding its place only until its handshake is done.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

/// Connections still in their handshake (or a stranger's pairing hello), in all.
pub const MAX_PENDING: usize = 64;
/// Connections still in their handshake from one address.
pub const MAX_PENDING_PER_ADDRESS: usize = 8;

/// Why a connection was turned away at the door.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Full {
    /// Too many unfinished connections in all.
    Total,
    /// Too many unfinished connections from its address.
    Address,
}

impl Full {
    pub fn reason(self) -> &'static str {
        match self {
            Full::Total => "too many unfinished connections",
            Full::Address => "too many unfinished connections from one address",
        }
    }
}

/// The places taken, by address.
#[derive(Debug, Default)]
pub struct Gate {
    taken: Arc<Mutex<Taken>>,
}

#[derive(Debug, Default)]
struct Taken {
    total: usize,
    by_address: HashMap<IpAddr, usize>,
}

/// One connection's place; dropping it frees the place.
#[derive(Debug)]
pub struct Pass {
    taken: Arc<Mutex<Taken>>,
    from: IpAddr,
}

fn lock(m: &Mutex<Taken>) -> std::sync::MutexGuard<'_, Taken> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Gate {
    /// A place for a connection from `from`, if one is free.
    pub fn enter(&self, from: IpAddr) -> Result<Pass, Full> {
        let mut taken = lock(&self.taken);
        if taken.total >= MAX_PENDING {
            return Err(Full::Total);
        }
        let here = taken.by_address.entry(from).or_default();
        if *here >= MAX_PENDING_PER_ADDRESS {
            return Err(Full::Address);
        }
        *here += 1;
        taken.total += 1;
        Ok(Pass {
            taken: self.taken.clone(),
            from,
        })
    }
}

impl Drop for Pass {
    fn drop(&mut self) {
        let mut taken = lock(&self.taken);
        taken.total -= 1;
        if let Some(n) = taken.by_address.get_mut(&self.from) {
            *n -= 1;
            if *n == 0 {
                taken.by_address.remove(&self.from);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn places_are_bounded_per_address_and_in_all_and_come_back() {
        let gate = Gate::default();
        let one: IpAddr = "10.0.0.1".parse().unwrap();
        let passes: Vec<Pass> = (0..MAX_PENDING_PER_ADDRESS)
            .map(|_| gate.enter(one).unwrap())
            .collect();
        assert_eq!(gate.enter(one).unwrap_err(), Full::Address);
        let mut others = Vec::new();
        for i in 0..MAX_PENDING - MAX_PENDING_PER_ADDRESS {
            others.push(gate.enter(IpAddr::from([10, 0, 1, i as u8])).unwrap());
        }
        assert_eq!(
            gate.enter("10.0.2.1".parse().unwrap()).unwrap_err(),
            Full::Total
        );
        drop(passes);
        drop(others);
        assert!(gate.enter(one).is_ok());
        assert!(lock(&gate.taken).by_address.len() <= 1);
    }
}
