//! Starts the desktop window over the local database.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use carebook_sync::clinic;
use carebook_sync::store::{schema, Store};

use carebook_sync::identity::Keyring;
use carebook_sync::net::discovery::Scope;
use carebook_sync::net::serve::{self, Config, Running};

use crate::app::App;
use crate::backend::Runner;
use crate::context::Folders;
use crate::probe::{self, Probe};
use crate::theme;

/// How many made-up patients `--demo` adds.
const DEMO_PATIENTS: usize = 400;

pub fn run(
    dir: &Path,
    log_dir: Option<PathBuf>,
    demo: bool,
    probe: Probe,
    discovery: Option<Scope>,
) -> anyhow::Result<()> {
    let path = crate::status::database_path(dir);
    let store = Arc::new(
        Store::open(&path, schema::CLINIC)
            .with_context(|| format!("opening the database {}", path.display()))?,
    );
    if demo {
        let db = store.writer();
        if clinic::staff::list(&db)?.is_empty() {
            clinic::demo::fill(&db, DEMO_PATIENTS, 7).context("adding demo data")?;
            clinic::profile::ensure(&db, "Riverside Family Practice (demo)")?;
        } else {
            eprintln!("carebook: --demo adds made-up records to a new database only; this one already has staff");
        }
    }
    let signed_in = match &probe {
        Probe::Patient(_) => Some(probe::sign_in_from_stdin(&store)?),
        _ => None,
    };
    let running = start_node(dir, &store, discovery);
    let node = running.as_ref().map(|r| r.node.clone());
    let port = running.as_ref().map_or(0, |r| r.addr.port());
    let folders = Folders {
        data: dir.to_path_buf(),
        logs: log_dir,
        keyring: Keyring::Use,
    };
    let mut app = iced::application(
        move || {
            let (mut app, task) = App::new(
                Runner::new(store.clone()),
                node.clone(),
                port,
                folders.clone(),
            );
            app.probe = probe.clone();
            app.me = signed_in.clone();
            (app, task)
        },
        App::update,
        App::view,
    )
    .title(App::title)
    .theme(App::theme)
    .subscription(App::subscription)
    .default_font(theme::TEXT)
    .window_size((1200.0, 800.0));
    for font in theme::FONTS {
        app = app.font(font);
    }
    let ran = app.run().context("running the window");
    drop(running);
    ran
}

/// Starts this computer's node: listening on the usual port (or any free one when a second
/// instance runs beside the first), keeping connections to the clinic's computers, and
/// looking for them on the network. It runs until the window closes.
fn start_node(dir: &Path, store: &Arc<Store>, discovery: Option<Scope>) -> Option<Running> {
    let config = Config {
        any_port_if_taken: true,
        discovery,
        // The window makes its automatic backups from its own clock for now.
        backups: false,
        ..Config::new(dir.to_path_buf(), store.clone())
    };
    serve::serve(config)
        .inspect_err(|e| tracing::warn!("working without the network: {e}"))
        .ok()
}
