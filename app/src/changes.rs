//! The window's ear for committed changes: one subscription over the store that yields the
//! database's version whenever a commit is announced (this window's, a merge from another
//! computer, or another program's), so the open screen refreshes without a timer of its own.

use std::hash::{Hash, Hasher};
use std::sync::Arc;

use carebook_sync::store::{Store, StoreError};
use iced::futures::{SinkExt, Stream};
use iced::Subscription;

/// The store, named by its file (the subscription keeps running while the file is the same).
struct Watched(Arc<Store>);

impl Hash for Watched {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.0.path().hash(state);
    }
}

/// The database's version after each announced commit.
pub fn subscription(store: Arc<Store>) -> Subscription<i64> {
    Subscription::run_with(Watched(store), |w| announced(w.0.clone()))
}

/// The store's own announcements (its writer's commits at once, other programs' within
/// `store::WATCH_EVERY`), each followed by the version read then.
fn announced(store: Arc<Store>) -> impl Stream<Item = i64> {
    iced::stream::channel(1, async move |mut out| {
        let mut feed = store.changes();
        loop {
            let s = store.clone();
            let version = tokio::task::spawn_blocking(move || {
                s.read(|db| Ok::<_, StoreError>(carebook_sync::store::db_version(db)?))
            })
            .await;
            if let Ok(Ok(v)) = version {
                if out.send(v).await.is_err() {
                    return;
                }
            }
            if feed.changed().await.is_err() {
                return;
            }
        }
    })
}
