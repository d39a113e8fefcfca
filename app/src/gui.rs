//! Starts the desktop window over the local database.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use carebook_sync::clinic;
use carebook_sync::store::{schema, Store};

use crate::app::App;
use crate::backend::Runner;
use crate::theme;

/// How many made-up patients `--demo` adds.
const DEMO_PATIENTS: usize = 400;

pub fn run(dir: &Path, demo: bool, probe: bool) -> anyhow::Result<()> {
    let path = crate::status::database_path(dir);
    let store = Arc::new(
        Store::open(&path, schema::CLINIC)
            .with_context(|| format!("opening the database {}", path.display()))?,
    );
    if demo {
        let db = store.writer();
        if clinic::staff::list(&db)?.is_empty() {
            clinic::demo::fill(&db, DEMO_PATIENTS, 7).context("adding demo data")?;
        } else {
            eprintln!("carebook: --demo adds made-up records to a new database only; this one already has staff");
        }
    }
    let mut app = iced::application(
        move || {
            let (mut app, task) = App::new(Runner::Background(store.clone()));
            app.probe = probe;
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
