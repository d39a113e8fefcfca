//! The fault and attack suite: 3 to 5 computers over real TLS on loopback, each pair joined
//! by a [`Link`] that can be cut, take random writes while a seeded schedule partitions them,
//! stops and restarts them abruptly, lets two of them take large batches while apart, jumps
//! their wall clocks (as the records see them), runs one as a process of its own and kills
//! it with SIGKILL, removes one that then keeps dialling, and has a rogue member send them
//! garbage. After healing, every remaining computer must hold the same rows and changes, and
//! every acknowledged (committed) write must be there. The same seed replays the same
//! schedule (the timing of the network is the machine's own).

pub mod child;
mod machine;
mod rogue;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use carebook_sync::clinic::demo::Rng;
use carebook_sync::identity::{DeviceId, Identity, Keyring};
use carebook_sync::net::node::Node;
use carebook_sync::net::roster::{self, Verdict};
use carebook_sync::store::CrrConnection;
use rusqlite::{params, Connection};
use tokio::runtime::Runtime;

use crate::link::{Link, Target};
use crate::{change_set, rows};
pub use machine::Machine;

/// How big a run is.
#[derive(Debug, Clone, Copy)]
pub struct Scale {
    /// Steps in the schedule.
    pub steps: usize,
    /// New patients each side takes in one transaction while two computers are apart.
    pub bulk: usize,
    /// How long healing may take.
    pub patience: Duration,
}

impl Scale {
    /// Small enough for every `cargo test` in a debug build.
    pub const CI: Scale = Scale {
        steps: 12,
        bulk: 300,
        patience: Duration::from_secs(60),
    };
    /// What the runner does by default.
    pub const FULL: Scale = Scale {
        steps: 24,
        bulk: 3000,
        patience: Duration::from_secs(120),
    };
}

/// What one run did.
#[derive(Debug)]
pub struct Outcome {
    pub computers: usize,
    pub writes: usize,
    pub steps: Vec<String>,
}

/// Runs the schedule of `seed`; `Err` says what did not hold (never any record's contents).
/// `exe` is a program that runs a computer as a child process when given `--child` (see
/// [`child::serve`]), for the kill -9 steps; without it those steps stop the computer
/// in-process instead.
pub fn run(seed: u64, scale: Scale, exe: Option<&Path>) -> Result<Outcome, String> {
    let mut fleet = Fleet::new(seed);
    fleet.exe = exe.map(Path::to_path_buf);
    let result = fleet.play(scale);
    let steps = std::mem::take(&mut fleet.steps);
    match result {
        Ok(()) => Ok(Outcome {
            computers: fleet.machines.len(),
            writes: fleet.writes,
            steps,
        }),
        Err(e) => Err(format!(
            "seed {seed}: {e}\n  schedule: {}",
            steps.join(", ")
        )),
    }
}

/// A connection attempt loop, as a node's own would be but without backoff (the suite
/// wants the network back as soon as a link heals). Counts its tries.
async fn dial_loop(node: Arc<Node>, via: Target, peer: DeviceId, tries: Arc<AtomicU64>) {
    loop {
        let addr = *via.lock().unwrap_or_else(|p| p.into_inner());
        let _ = node.dial(addr, peer).await;
        tries.fetch_add(1, Ordering::Relaxed);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

struct Fleet {
    rng: Rng,
    /// Runs the links and the rogue.
    net: Runtime,
    machines: Vec<Machine>,
    /// Between computers `i < j`: `j` dials `i` through it.
    links: BTreeMap<(usize, usize), Link>,
    /// The computer that will be removed (it dials everyone directly and keeps trying).
    doomed: Option<usize>,
    removed: bool,
    doomed_tries: Arc<AtomicU64>,
    /// Each computer's wall clock as its records see it: an offset in seconds.
    skew: Vec<i64>,
    /// Rows only their owner writes: the owner and the last value it committed.
    acked: BTreeMap<String, (usize, String)>,
    writes: usize,
    rogue: (tempfile::TempDir, Identity),
    steps: Vec<String>,
    exe: Option<PathBuf>,
}

impl Fleet {
    fn new(seed: u64) -> Fleet {
        let mut rng = Rng::new(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0xC0FFEE);
        let n = 3 + rng.below(3) as usize;
        let net = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("a runtime");
        let dir = tempfile::tempdir().expect("a folder");
        let rogue = Identity::load_or_create_with(dir.path(), Keyring::Off).expect("an identity");
        let machines: Vec<Machine> = (0..n).map(|i| Machine::new(&format!("pc{i}"))).collect();
        let doomed = (n >= 4).then_some(n - 1);
        let mut links = BTreeMap::new();
        for j in 0..n {
            for (i, m) in machines.iter().enumerate().take(j) {
                if Some(j) != doomed {
                    let to = m.listen.clone();
                    links.insert((i, j), net.block_on(Link::open(to, Duration::ZERO)));
                }
            }
        }
        let fleet = Fleet {
            rng,
            net,
            machines,
            links,
            doomed,
            removed: false,
            doomed_tries: Arc::new(AtomicU64::new(0)),
            skew: vec![0; n],
            acked: BTreeMap::new(),
            writes: 0,
            rogue: (dir, rogue),
            steps: Vec::new(),
            exe: None,
        };
        for i in 0..n {
            let db = fleet.machines[i].node().expect("running").store.clone();
            let db = db.writer();
            for (k, m) in fleet.machines.iter().enumerate() {
                if k != i {
                    roster::add(&db, &m.id, &m.name, "").expect("trust");
                }
            }
            roster::add(&db, &fleet.rogue.1.id, "rogue", "").expect("trust the rogue");
        }
        for i in 0..n {
            fleet.dial_from(i);
        }
        fleet
    }

    /// Starts computer `i`'s dialling: to each lower one through their link, or (the doomed
    /// one) to everyone directly.
    fn dial_from(&self, i: usize) {
        let m = &self.machines[i];
        let Some(node) = m.node() else { return };
        for (k, other) in self.machines.iter().enumerate() {
            let (via, tries) = if Some(i) == self.doomed && k != i {
                (other.listen.clone(), self.doomed_tries.clone())
            } else if let Some(link) = (k < i).then(|| self.links.get(&(k, i))).flatten() {
                let addr = Arc::new(Mutex::new(link.addr));
                (addr, Arc::new(AtomicU64::new(0)))
            } else {
                continue;
            };
            m.spawn(dial_loop(node.clone(), via, other.id, tries));
        }
    }

    fn members(&self) -> Vec<usize> {
        (0..self.machines.len())
            .filter(|&i| Some(i) != self.doomed)
            .collect()
    }

    fn pick(&mut self, from: &[usize]) -> usize {
        from[self.rng.below(from.len() as u64) as usize]
    }

    fn play(&mut self, scale: Scale) -> Result<(), String> {
        let members = self.members();
        for _ in 0..scale.steps {
            let roll = self.rng.below(100);
            match roll {
                0..=29 => {
                    let k = 1 + self.rng.below(8);
                    self.steps.push(format!("{k} writes"));
                    for _ in 0..k {
                        let i = self.rng.below(self.machines.len() as u64) as usize;
                        self.write_one(i)?;
                    }
                }
                30..=39 => {
                    let (i, j) = self.pair(&members);
                    self.steps.push(format!("cut {i}-{j}"));
                    self.links[&(i, j)].cut();
                }
                40..=46 => {
                    let (i, j) = self.pair(&members);
                    self.steps.push(format!("heal {i}-{j}"));
                    self.links[&(i, j)].heal();
                }
                47..=54 => {
                    let i = self.pick(&members);
                    self.steps.push(format!("isolate {i}"));
                    self.isolate(i);
                }
                55..=61 => {
                    self.steps.push("heal all".into());
                    self.heal_all();
                }
                62..=67 => {
                    let i = self.rng.below(self.machines.len() as u64) as usize;
                    self.steps.push(format!("kill and restart {i}"));
                    self.kill_restart(i)?;
                }
                68..=71 => {
                    let i = self.pick(&members);
                    self.steps.push(format!("kill -9 {i}"));
                    self.kill_process(i)?;
                }
                72..=76 => {
                    let i = self.pick(&members);
                    self.steps.push(format!("kill {i}"));
                    self.machines[i].kill();
                }
                77..=82 => {
                    let (i, j) = self.pair(&members);
                    self.steps
                        .push(format!("{i} and {j} apart with {} each", scale.bulk));
                    self.isolate(i);
                    self.isolate(j);
                    self.bulk(i, scale.bulk)?;
                    self.bulk(j, scale.bulk)?;
                }
                83..=87 => {
                    let i = self.rng.below(self.machines.len() as u64) as usize;
                    let years = self.rng.below(21) as i64 - 10;
                    self.steps.push(format!("clock of {i} jumps {years} years"));
                    self.skew[i] = years * 365 * 86_400 + self.rng.below(86_400) as i64;
                }
                88..=94 => {
                    let i = self.pick(&members);
                    self.steps.push(format!("garbage to {i}"));
                    self.garbage(i)?;
                }
                _ => {
                    if self.doomed.is_some() && !self.removed {
                        self.steps.push("remove".into());
                        self.remove()?;
                    }
                }
            }
            let pause = self.rng.below(200);
            std::thread::sleep(Duration::from_millis(pause));
        }
        self.steps.push("heal".into());
        for i in 0..self.machines.len() {
            if !self.machines[i].running() {
                self.restart(i)?;
            }
        }
        if self.doomed.is_some() && !self.removed {
            self.remove()?;
        }
        self.heal_all();
        self.converged(scale.patience)?;
        self.nothing_lost()?;
        self.removed_stays_out(scale.patience)
    }

    fn pair(&mut self, members: &[usize]) -> (usize, usize) {
        let i = self.pick(members);
        let mut j = self.pick(members);
        while j == i {
            j = self.pick(members);
        }
        (i.min(j), i.max(j))
    }

    fn isolate(&self, i: usize) {
        for ((a, b), link) in &self.links {
            if *a == i || *b == i {
                link.cut();
            }
        }
    }

    fn heal_all(&self) {
        self.links.values().for_each(Link::heal);
    }

    /// The computer's wall clock as its records see it, in seconds.
    fn now(&self, i: usize) -> i64 {
        let t = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        t + self.skew[i]
    }

    /// Runs `f` on computer `i`'s database: through its store's writer while it runs, or
    /// straight on the file while it is stopped (as another program would).
    fn on_db<R>(
        &self,
        i: usize,
        f: impl FnOnce(&Connection) -> rusqlite::Result<R>,
    ) -> Result<R, String> {
        let m = &self.machines[i];
        let r = match m.node() {
            Some(node) => f(&node.store.writer()),
            None => {
                let c = CrrConnection::open(&m.db_path(), false).map_err(|e| e.to_string())?;
                f(&c)
            }
        };
        r.map_err(|e| format!("a write on {}: {e}", m.name))
    }

    /// One write on computer `i`: a new row of its own, another value for one of its rows,
    /// or a row every computer writes.
    fn write_one(&mut self, i: usize) -> Result<(), String> {
        self.writes += 1;
        let value = format!("v{}-{}", i, self.writes);
        let own: Vec<String> = self
            .acked
            .iter()
            .filter(|(_, (o, _))| *o == i)
            .map(|(k, _)| k.clone())
            .collect();
        let id = match self.rng.below(3) {
            0 => format!("shared-{}", self.rng.below(4)),
            1 if !own.is_empty() => own[self.rng.below(own.len() as u64) as usize].clone(),
            _ => format!("own-{i}-{}", self.writes),
        };
        let at = self.now(i);
        let (sql_id, sql_value) = (id.clone(), value.clone());
        self.on_db(i, move |db| {
            db.execute(
                "INSERT INTO patients(id, family_name, date_of_birth, created_at, updated_at)
                 VALUES (?1, ?2, '1980-01-01', ?3, ?3)
                 ON CONFLICT(id) DO UPDATE SET family_name = excluded.family_name,
                     updated_at = excluded.updated_at",
                params![sql_id, sql_value, at],
            )
        })?;
        if id.starts_with("own-") {
            self.acked.insert(id, (i, value));
        }
        Ok(())
    }

    /// `n` new patients of computer `i`'s own in one transaction.
    fn bulk(&mut self, i: usize, n: usize) -> Result<(), String> {
        self.writes += 1;
        let tag = self.writes;
        let at = self.now(i);
        self.on_db(i, |db| {
            let tx = db.unchecked_transaction()?;
            {
                let mut st = tx.prepare(
                    "INSERT INTO patients(id, family_name, given_name, phone, date_of_birth,
                         created_at, updated_at) VALUES (?1, ?2, 'Bulk', '+1 555 0100', '1970-01-01', ?3, ?3)",
                )?;
                for k in 0..n {
                    st.execute(params![format!("own-{i}-{tag}-{k}"), format!("b{tag}-{k}"), at])?;
                }
            }
            tx.commit()
        })?;
        for k in 0..n {
            self.acked
                .insert(format!("own-{i}-{tag}-{k}"), (i, format!("b{tag}-{k}")));
        }
        Ok(())
    }

    fn restart(&mut self, i: usize) -> Result<(), String> {
        self.machines[i].start();
        self.dial_from(i);
        // What it committed before it stopped is still there.
        self.check_rows(i, true)
    }

    fn kill_restart(&mut self, i: usize) -> Result<(), String> {
        self.machines[i].kill();
        for _ in 0..self.rng.below(3) {
            self.write_one(i)?;
        }
        self.restart(i)
    }

    /// Runs computer `i` as a child process that writes until it is killed with SIGKILL at a
    /// random moment, then starts it again here.
    fn kill_process(&mut self, i: usize) -> Result<(), String> {
        let Some(exe) = self.exe.clone() else {
            return self.kill_restart(i);
        };
        self.machines[i].kill();
        let peers: Vec<_> = (0..i)
            .filter_map(|k| {
                self.links
                    .get(&(k, i))
                    .map(|l| (l.addr, self.machines[k].id))
            })
            .collect();
        self.writes += 1;
        let m = &self.machines[i];
        let (running, addr) = child::start(&exe, m.dir(), &m.name, self.writes, &peers)?;
        *m.listen.lock().unwrap_or_else(|p| p.into_inner()) = addr;
        let n = 1 + self.rng.below(20) as usize;
        for (id, value) in running.kill_after(n)? {
            self.acked.insert(id, (i, value));
        }
        self.restart(i)
    }

    /// Every acknowledged write of a member (or only of `i` itself), as last written, on
    /// computer `i`.
    fn check_rows(&self, i: usize, only_own: bool) -> Result<(), String> {
        let c =
            CrrConnection::open(&self.machines[i].db_path(), true).map_err(|e| e.to_string())?;
        let mut st = c
            .prepare("SELECT family_name FROM patients WHERE id = ?1")
            .map_err(|e| e.to_string())?;
        let mut missing = 0;
        for (id, (owner, value)) in &self.acked {
            let relevant =
                *owner == i || (!only_own && Some(*owner) != self.doomed && Some(i) != self.doomed);
            if !relevant {
                continue;
            }
            let got: Option<String> = st.query_row([id], |r| r.get(0)).ok();
            if got.as_deref() != Some(value) {
                missing += 1;
            }
        }
        if missing > 0 {
            return Err(format!(
                "{} lacks {missing} acknowledged writes (or holds older values)",
                self.machines[i].name
            ));
        }
        Ok(())
    }

    fn garbage(&mut self, i: usize) -> Result<(), String> {
        let m = &self.machines[i];
        if !m.running() {
            return Ok(());
        }
        let (to, id) = (*m.listen.lock().unwrap_or_else(|p| p.into_inner()), m.id);
        let mut rng = Rng::new(self.rng.next_u64());
        self.net
            .block_on(rogue::attack(&self.rogue.1, to, id, &mut rng))
            .map_err(|e| format!("{e} ({})", self.machines[i].name))
    }

    /// A member removes the doomed computer (which keeps dialling everyone).
    fn remove(&mut self) -> Result<(), String> {
        let Some(d) = self.doomed else { return Ok(()) };
        let members = self.members();
        let mut by = self.pick(&members);
        for _ in 0..members.len() {
            if self.machines[by].running() {
                break;
            }
            by = members[(members.iter().position(|&m| m == by).unwrap_or(0) + 1) % members.len()];
        }
        let id = self.machines[d].id;
        self.on_db(by, |db| roster::revoke(db, &id).map(|_| ()))?;
        self.removed = true;
        Ok(())
    }

    /// A cheap summary of a database: its changes and patients.
    fn digest(&self, i: usize) -> Result<(i64, i64, i64), String> {
        let c =
            CrrConnection::open(&self.machines[i].db_path(), true).map_err(|e| e.to_string())?;
        c.query_row(
            "SELECT count(*), coalesce(sum(col_version), 0),
                    (SELECT count(*) FROM patients) FROM crsql_changes",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .map_err(|e| e.to_string())
    }

    /// Waits until every member holds the same changes and rows.
    fn converged(&self, patience: Duration) -> Result<(), String> {
        let members = self.members();
        let start = Instant::now();
        loop {
            let digests = members
                .iter()
                .map(|&i| self.digest(i))
                .collect::<Result<Vec<_>, _>>()?;
            if digests.windows(2).all(|w| w[0] == w[1]) && self.identical(&members)? {
                return Ok(());
            }
            if start.elapsed() > patience {
                let counts: Vec<String> = digests.iter().map(|d| format!("{}", d.0)).collect();
                return Err(format!(
                    "no convergence within {}s (changes held: {})",
                    patience.as_secs(),
                    counts.join(" / ")
                ));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Whether the members' changes and rows are identical.
    fn identical(&self, members: &[usize]) -> Result<bool, String> {
        let mut first = None;
        for &i in members {
            let c = CrrConnection::open(&self.machines[i].db_path(), true)
                .map_err(|e| e.to_string())?;
            let here = (
                change_set(&c),
                rows(&c, "patients"),
                rows(&c, "revocations"),
            );
            match &first {
                None => first = Some(here),
                Some(f) if *f != here => return Ok(false),
                Some(_) => {}
            }
        }
        Ok(true)
    }

    fn nothing_lost(&self) -> Result<(), String> {
        self.members()
            .into_iter()
            .try_for_each(|i| self.check_rows(i, false))
    }

    /// The removed computer writes again and keeps dialling; after it was refused a few more
    /// times and a member's new write has reached every member, its write is on none.
    fn removed_stays_out(&mut self, patience: Duration) -> Result<(), String> {
        let Some(d) = self.doomed else { return Ok(()) };
        let members = self.members();
        let id = self.machines[d].id;
        // Removed as the running nodes see it: refused, and no session with it left.
        let start = Instant::now();
        while !members.iter().all(|&i| {
            self.machines[i].node().is_some_and(|n| {
                n.roster.verdict(&id) == Verdict::Revoked && n.sessions_with(&id) == 0
            })
        }) {
            if start.elapsed() > patience {
                return Err("the members did not all end the removed computer's sessions".into());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        self.on_db(d, |db| {
            db.execute(
                "INSERT INTO patients(id, family_name) VALUES ('late', 'after removal')",
                [],
            )
        })?;
        let tries = self.doomed_tries.load(Ordering::Relaxed);
        let start = Instant::now();
        while self.doomed_tries.load(Ordering::Relaxed) < tries + 2 * members.len() as u64 {
            if start.elapsed() > patience {
                return Err("the removed computer stopped trying".into());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let w = members[0];
        self.write_one(w)?;
        self.converged(patience)?;
        for &i in &members {
            let c = CrrConnection::open(&self.machines[i].db_path(), true)
                .map_err(|e| e.to_string())?;
            let late: i64 = c
                .query_row("SELECT count(*) FROM patients WHERE id = 'late'", [], |r| {
                    r.get(0)
                })
                .map_err(|e| e.to_string())?;
            if late > 0 {
                return Err(format!(
                    "a write of the removed computer reached {}",
                    self.machines[i].name
                ));
            }
        }
        Ok(())
    }
}
