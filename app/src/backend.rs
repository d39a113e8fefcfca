//! Runs database work off the UI thread. A job is a function of the store that returns the
//! message carrying its result; the app hands jobs here and never touches SQL itself. In tests
//! jobs run at once and their messages queue up, so the same code is exercised without a
//! window or an executor.

#[cfg(test)]
use std::collections::VecDeque;
use std::sync::Arc;

use carebook_sync::store::Store;
use iced::Task;

use crate::app::Message;

/// Where jobs run.
#[derive(Debug)]
pub enum Runner {
    /// On tokio's blocking pool; results come back as messages.
    Background(Arc<Store>),
    /// Right away, results queued (tests).
    #[cfg(test)]
    Inline(Arc<Store>, VecDeque<Message>),
}

impl Runner {
    pub fn store(&self) -> &Arc<Store> {
        match self {
            Runner::Background(s) => s,
            #[cfg(test)]
            Runner::Inline(s, _) => s,
        }
    }

    /// Runs `job` with the store; its message arrives through `update`.
    pub fn spawn(&mut self, job: impl FnOnce(&Store) -> Message + Send + 'static) -> Task<Message> {
        match self {
            Runner::Background(store) => {
                let store = store.clone();
                Task::perform(
                    async move {
                        tokio::task::spawn_blocking(move || job(&store))
                            .await
                            .unwrap_or_else(|e| {
                                Message::Failed(format!("a background task failed: {e}"))
                            })
                    },
                    |m| m,
                )
            }
            #[cfg(test)]
            Runner::Inline(store, queue) => {
                let m = job(store);
                queue.push_back(m);
                Task::none()
            }
        }
    }

    /// The next queued message (inline runner only).
    #[cfg(test)]
    pub fn next_message(&mut self) -> Option<Message> {
        match self {
            Runner::Inline(_, queue) => queue.pop_front(),
            Runner::Background(_) => None,
        }
    }
}
