//! A computer of the suite run as a process of its own, so it can be killed with SIGKILL: it
//! opens its data folder, listens, dials the peers it is given and writes rows of its own,
//! printing each one as soon as its commit returned (what it acknowledged). The parent reads
//! those lines, kills it at a random moment, and checks that every printed write survives.

use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use carebook_sync::identity::{DeviceId, Identity, Keyring};
use carebook_sync::net::node::Node;
use carebook_sync::store::{schema, Store};

/// The child's side: `--child DIR NAME TAG [ADDR=ID]...`. Never returns.
pub fn serve(args: &[String]) -> ! {
    let [dir, name, tag, peers @ ..] = args else {
        eprintln!("--child needs DIR NAME TAG [ADDR=ID]...");
        std::process::exit(2);
    };
    let dir = Path::new(dir);
    let rt = tokio::runtime::Runtime::new().expect("a runtime");
    let store = Arc::new(Store::open(&dir.join("carebook.db"), schema::CLINIC).expect("open"));
    let identity = Identity::load_or_create_with(dir, Keyring::Off).expect("the identity");
    let node = Node::new(identity, store.clone(), name).expect("the node");
    rt.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a port");
        println!("listening {}", listener.local_addr().expect("its address"));
        tokio::spawn(node.clone().listen(listener));
        tokio::spawn(node.clone().maintain());
        for p in peers {
            let Some((addr, id)) = p.split_once('=') else {
                continue;
            };
            let (Ok(addr), Ok(id)) = (addr.parse::<SocketAddr>(), DeviceId::parse(id)) else {
                continue;
            };
            let node = node.clone();
            tokio::spawn(async move {
                loop {
                    let _ = node.dial(addr, id).await;
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            });
        }
        for n in 0u64.. {
            let (id, value) = (format!("own-{name}-c{tag}-{n}"), format!("c{tag}-{n}"));
            let s = store.clone();
            let (i, v) = (id.clone(), value.clone());
            tokio::task::spawn_blocking(move || {
                s.writer().execute(
                    "INSERT INTO patients(id, family_name, date_of_birth) VALUES (?1, ?2, '1990-02-03')",
                    [i, v],
                )
            })
            .await
            .expect("the write ran")
            .expect("the write");
            let mut out = std::io::stdout().lock();
            // The closing dot tells a whole line from one cut short by the kill.
            let _ = writeln!(out, "acked {id} {value} .");
            let _ = out.flush();
            tokio::time::sleep(Duration::from_millis(15)).await;
        }
    });
    std::process::exit(0)
}

/// A running child computer, with what it reported so far.
pub struct Running {
    child: Child,
    lines: std::sync::mpsc::Receiver<String>,
}

/// Starts `exe --child ...` for the computer in `dir`; returns once it listens, with where.
pub fn start(
    exe: &Path,
    dir: &Path,
    name: &str,
    tag: usize,
    peers: &[(SocketAddr, DeviceId)],
) -> Result<(Running, SocketAddr), String> {
    let mut cmd = Command::new(exe);
    cmd.arg("--child").arg(dir).arg(name).arg(tag.to_string());
    for (addr, id) in peers {
        cmd.arg(format!("{addr}={}", id.to_text()));
    }
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("starting a child computer: {e}"))?;
    let out = child.stdout.take().expect("piped");
    let (tx, lines) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    let first = lines
        .recv_timeout(Duration::from_secs(60))
        .map_err(|_| "a child computer did not start".to_string())?;
    let addr = first
        .strip_prefix("listening ")
        .and_then(|a| a.parse().ok())
        .ok_or("a child computer said something else first")?;
    Ok((Running { child, lines }, addr))
}

impl Running {
    /// Waits for `n` acknowledged writes, kills the process with SIGKILL, and returns every
    /// write it acknowledged (id, value), including any printed just before it died.
    pub fn kill_after(mut self, n: usize) -> Result<Vec<(String, String)>, String> {
        let mut acked = Vec::new();
        let take = |line: String, acked: &mut Vec<(String, String)>| {
            let parts: Vec<&str> = line.split(' ').collect();
            if let ["acked", id, v, "."] = parts[..] {
                acked.push((id.to_string(), v.to_string()));
            }
        };
        while acked.len() < n {
            let line = self
                .lines
                .recv_timeout(Duration::from_secs(60))
                .map_err(|_| "a child computer stopped writing".to_string())?;
            take(line, &mut acked);
        }
        self.child.kill().map_err(|e| format!("kill -9: {e}"))?;
        let _ = self.child.wait();
        // The pipe is closed now: what it printed before dying is all still here.
        while let Ok(line) = self.lines.recv_timeout(Duration::from_secs(10)) {
            take(line, &mut acked);
        }
        Ok(acked)
    }
}
