//! What every screen may read while it updates: where jobs run, who is at the keyboard, this
//! computer's node and folders. Screens get it borrowed from the app and keep none of it.

use std::path::PathBuf;
use std::sync::Arc;

use carebook_sync::clinic::staff::Staff;
use carebook_sync::clinic::Actor;
use carebook_sync::identity::Keyring;
use carebook_sync::net::node::Node;

use crate::backend::Runner;

/// Where this instance keeps its files, and whether its secrets may go to the OS keyring.
#[derive(Debug, Clone)]
pub struct Folders {
    pub data: PathBuf,
    /// Where the log files go (None: only stderr, as in tests).
    pub logs: Option<PathBuf>,
    pub keyring: Keyring,
}

/// The app's state a screen may read.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    pub runner: &'a Runner,
    /// Who is at the keyboard (None before the clinic's staff exist).
    pub me: Option<&'a Staff>,
    pub staff: &'a [Staff],
    pub device_id: &'a str,
    /// This computer on the clinic's network (None when the window runs offline).
    pub node: Option<&'a Arc<Node>>,
    pub listen_port: u16,
    pub folders: &'a Folders,
}

impl Context<'_> {
    /// Who is acting, for a write.
    pub fn actor(&self) -> Option<Actor> {
        self.me.map(|s| Actor {
            staff_id: s.id.clone(),
            device_id: self.device_id.to_string(),
        })
    }
}
