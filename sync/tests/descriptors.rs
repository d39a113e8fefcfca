//! A computer that runs out of file descriptors (a flood of connections, say) keeps its
//! listener: it waits a moment, accepts again once descriptors are free, and the clinic's
//! computers get through. Alone in its test binary: it lowers the whole process's limit.

use std::time::{Duration, Instant};

use carebook_sync::net::members::{self, Pairing};
use carebook_tests::Computer;

/// The process's soft limit on open files.
fn soft_limit() -> libc::rlimit {
    let mut l = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the struct it is given.
    assert_eq!(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut l) }, 0);
    l
}

fn set_soft_limit(to: libc::rlim_t) {
    let l = libc::rlimit {
        rlim_cur: to,
        rlim_max: soft_limit().rlim_max,
    };
    // SAFETY: setrlimit reads the struct it is given.
    assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &l) }, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_listener_outlives_running_out_of_file_descriptors() {
    let a = Computer::new().online("Front desk").await;
    let b = Computer::new().online("New laptop").await;
    let before = soft_limit().rlim_cur;
    set_soft_limit(256);
    // Every free descriptor taken, but one for a connection to wait in A's queue.
    let mut files = Vec::new();
    while let Ok(f) = std::fs::File::open("/dev/null") {
        files.push(f);
    }
    files.pop();
    let waiting = std::net::TcpStream::connect(a.addr).unwrap();
    // A cannot accept it (no descriptor left); give its listener time to meet the error.
    let mut byte = [0u8; 1];
    waiting
        .set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let _ = std::io::Read::read(&mut &waiting, &mut byte);
    drop(files);
    drop(waiting);
    set_soft_limit(before);

    let started = Instant::now();
    loop {
        let asked = members::pair(&b.node, a.addr, a.id(), "").await.unwrap();
        if matches!(asked, Pairing::Requested { .. }) {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "A no longer answers: {asked:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
