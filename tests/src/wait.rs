//! Waiting for something to become true, for tests of things that happen in their own time
//! (replication, a process starting): checked often, given up on with a panic that names it.

use std::time::{Duration, Instant};

/// How long anything may take before a test gives up on it.
const PATIENCE: Duration = Duration::from_secs(120);

/// Waits until `ok` holds, checking it every few milliseconds; panics naming `what` after
/// two minutes.
pub async fn eventually(what: &str, mut ok: impl FnMut() -> bool) {
    let start = Instant::now();
    while !ok() {
        assert!(start.elapsed() < PATIENCE, "timed out waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// [`eventually`] for a test without an async runtime: the thread sleeps between checks
/// (each of which may run a process, so not too often).
pub fn eventually_blocking(what: &str, ok: impl FnMut() -> bool) {
    blocking_within(PATIENCE, what, ok);
}

fn blocking_within(patience: Duration, what: &str, mut ok: impl FnMut() -> bool) {
    let start = Instant::now();
    while !ok() {
        assert!(start.elapsed() < patience, "timed out waiting for: {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn returns_once_true_and_not_before() {
        let mut asked = 0;
        eventually("the third check", || {
            asked += 1;
            asked == 3
        })
        .await;
        assert_eq!(asked, 3);
        let mut asked = 0;
        eventually_blocking("the second check", || {
            asked += 1;
            asked == 2
        });
        assert_eq!(asked, 2);
    }

    #[test]
    #[should_panic(expected = "timed out waiting for: a thing that never happens")]
    fn gives_up_naming_what_it_waited_for() {
        blocking_within(
            Duration::from_millis(300),
            "a thing that never happens",
            || false,
        );
    }
}
