//! Runs database work off the window's thread. A job is a function of the store (or of a
//! read-only connection) that returns the message carrying its result; screens hand jobs
//! here and never touch SQL themselves. Reads go to reader connections, so they never wait
//! for the single writer.

use std::sync::Arc;

use carebook_sync::store::{CrrConnection, Store, StoreError};
use iced::Task;

/// Why a read failed: the job's own reason, or no reader could be had.
enum Failed {
    Job(String),
    Store(StoreError),
}

impl From<StoreError> for Failed {
    fn from(e: StoreError) -> Failed {
        Failed::Store(e)
    }
}

/// Where jobs run: tokio's blocking pool, over one store.
#[derive(Debug, Clone)]
pub struct Runner {
    store: Arc<Store>,
}

impl Runner {
    pub fn new(store: Arc<Store>) -> Runner {
        Runner { store }
    }

    pub fn store(&self) -> &Arc<Store> {
        &self.store
    }

    /// Runs `job` with the store (writes take its writer); its message comes back as the
    /// task's output.
    pub fn spawn<M: Send + 'static>(
        &self,
        job: impl FnOnce(&Store) -> M + Send + 'static,
    ) -> Task<M> {
        let store = self.store.clone();
        Task::future(async move {
            match tokio::task::spawn_blocking(move || job(&store)).await {
                Ok(m) => Some(m),
                Err(e) => {
                    tracing::error!("a background job failed: {e}");
                    None
                }
            }
        })
        .and_then(Task::done)
    }

    /// Runs a read on one of the store's reused read-only connections: it sees the last
    /// committed state and never waits for the writer.
    pub fn read<T: Send + 'static>(
        &self,
        job: impl FnOnce(&CrrConnection) -> Result<T, String> + Send + 'static,
    ) -> Task<Result<T, String>> {
        self.spawn(move |store| {
            store
                .read(|db| job(db).map_err(Failed::Job))
                .map_err(|e| match e {
                    Failed::Job(e) => e,
                    Failed::Store(e) => e.to_string(),
                })
        })
    }
}
