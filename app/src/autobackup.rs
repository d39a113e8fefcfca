//! The window's automatic backups: the library's one scheduler loop (the same `serve` runs),
//! run while the window is open and the clinic is set up, as a subscription that says after
//! each look whether backups are overdue (for the top bar).

use std::hash::{Hash, Hasher};
use std::sync::Arc;

use carebook_sync::backup::schedule;
use carebook_sync::identity::Identity;
use carebook_sync::store::Store;
use iced::futures::{SinkExt, Stream};
use iced::Subscription;
use tokio::sync::watch;

use crate::context::Folders;

/// What the loop needs: the store, where the passphrase is kept, and this computer's identity
/// (the node's, or read from the data folder when the window runs offline).
#[derive(Clone)]
pub struct Making {
    pub store: Arc<Store>,
    pub folders: Folders,
    pub identity: Option<Arc<Identity>>,
}

impl Hash for Making {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.store.path().hash(state);
    }
}

/// Whether backups are overdue, after each look (at once, then once a minute).
pub fn subscription(making: Making) -> Subscription<bool> {
    Subscription::run_with(making, |m| looks(m.clone()))
}

/// The looks as a stream (the subscription's, and the tests').
pub fn looks(m: Making) -> impl Stream<Item = bool> {
    iced::stream::channel(1, async move |mut out| {
        let identity = match m.identity {
            Some(i) => Ok(i),
            None => {
                let f = m.folders.clone();
                tokio::task::spawn_blocking(move || {
                    Identity::load_or_create_with(&f.data, f.keyring).map(Arc::new)
                })
                .await
                .map_err(|e| e.to_string())
                .and_then(|r| r.map_err(|e| e.to_string()))
            }
        };
        let identity = match identity {
            Ok(i) => i,
            Err(e) => {
                tracing::warn!("no automatic backups: this computer's identity: {e}");
                let _ = out.send(true).await;
                return;
            }
        };
        let (report, mut reports) = watch::channel(None);
        // Ends with the stream, however the stream ends (even dropped mid-way).
        let _making = Stop(tokio::spawn(schedule::keep_making(
            m.store,
            m.folders.data,
            identity,
            report,
        )));
        while reports.changed().await.is_ok() {
            let overdue = reports.borrow_and_update().as_ref().map(|c| c.overdue);
            if let Some(overdue) = overdue {
                if out.send(overdue).await.is_err() {
                    break;
                }
            }
        }
    })
}

/// Stops the loop's task when dropped.
struct Stop(tokio::task::JoinHandle<()>);

impl Drop for Stop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
