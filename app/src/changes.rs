//! The window's ear for committed changes: one subscription over the store that yields the
//! database's version whenever a commit is announced (this window's, a merge from another
//! computer, or another program's), so the open screen refreshes without a timer of its own.

use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::time::Duration;

use carebook_sync::store::Store;
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

fn announced(store: Arc<Store>) -> impl Stream<Item = i64> {
    iced::stream::channel(1, async move |mut out| {
        let Ok(mut db) = store.reader() else {
            return;
        };
        let mut seen = None;
        loop {
            let looked = tokio::task::spawn_blocking(move || {
                let data: Option<i64> = db.query_row("PRAGMA data_version", [], |r| r.get(0)).ok();
                let version = carebook_sync::store::db_version(&db).ok();
                (db, data.zip(version))
            })
            .await;
            let Ok((back, now)) = looked else {
                return;
            };
            db = back;
            if let Some((data, version)) = now {
                if seen != Some(data) {
                    seen = Some(data);
                    if out.send(version).await.is_err() {
                        return;
                    }
                }
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    })
}
