//! Starts the desktop window over the local database.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use carebook_sync::clinic;
use carebook_sync::store::{schema, Store};

use carebook_sync::identity::Keyring;
use carebook_sync::net::discovery::Scope;
use carebook_sync::net::node::Node;
use carebook_sync::net::roster;

use crate::app::App;
use crate::backend::Runner;
use crate::context::Folders;
use crate::probe::Probe;
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
    let (node, port) = match start_node(dir, &store, discovery) {
        Ok((node, port)) => (Some(node), port),
        Err(e) => {
            tracing::warn!("working without the network: {e:#}");
            (None, 0)
        }
    };
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
    app.run().context("running the window")
}

/// Starts this computer's node on a runtime of its own: listening on the usual port (or any
/// free one when a second instance runs beside the first), keeping connections to the
/// clinic's computers, and looking for them on the network.
fn start_node(
    dir: &Path,
    store: &Arc<Store>,
    discovery: Option<Scope>,
) -> anyhow::Result<(Arc<Node>, u16)> {
    let identity = crate::cli::identity(dir)?;
    let name = roster::local(&store.writer())
        .0
        .unwrap_or_else(crate::cli::default_name);
    let node = Node::new(identity, store.clone(), &name)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let listener = runtime.block_on(async {
        match tokio::net::TcpListener::bind("0.0.0.0:7462").await {
            Ok(l) => Ok(l),
            Err(_) => tokio::net::TcpListener::bind("0.0.0.0:0").await,
        }
    })?;
    let port = listener.local_addr()?.port();
    roster::set_local(&store.writer(), &name, port)?;
    let n = node.clone();
    std::thread::Builder::new()
        .name("carebook-network".into())
        .spawn(move || {
            runtime.block_on(async move {
                tokio::spawn(n.clone().maintain());
                if let Some(scope) = discovery {
                    tokio::spawn(n.clone().discover(scope, port));
                }
                if let Err(e) = n.listen(listener).await {
                    tracing::warn!("stopped listening: {e}");
                }
            })
        })?;
    Ok((node, port))
}
