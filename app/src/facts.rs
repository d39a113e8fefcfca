//! What the clinic's IT helper asks for first: the version, the data folder, the log folder and
//! this computer's device ID. `carebook --version` prints them and the About box shows them.

use std::path::{Path, PathBuf};

use carebook_sync::identity::Identity;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Facts {
    pub version: &'static str,
    pub data_dir: PathBuf,
    pub log_dir: Option<PathBuf>,
    /// The device ID, or why there is none to show.
    pub device_id: Result<String, String>,
}

impl Facts {
    /// Reads them, making nothing (a computer where Carebook never ran stays untouched).
    pub fn read(data_dir: &Path, log_dir: Option<&Path>) -> Facts {
        let device_id = match Identity::existing_id(data_dir) {
            Ok(Some(id)) => Ok(id.to_string()),
            Ok(None) => Err("not made yet (the first start makes it)".into()),
            Err(e) => Err(format!("could not be read: {e}")),
        };
        Facts {
            version: env!("CARGO_PKG_VERSION"),
            data_dir: data_dir.to_path_buf(),
            log_dir: log_dir.map(Path::to_path_buf),
            device_id,
        }
    }

    /// Label and value, in the order they are shown.
    pub fn rows(&self) -> [(&'static str, String); 4] {
        [
            ("version", self.version.to_string()),
            ("data folder", self.data_dir.display().to_string()),
            (
                "log folder",
                self.log_dir.as_ref().map_or_else(
                    || "none (no home folder; logs go to stderr only)".into(),
                    |d| d.display().to_string(),
                ),
            ),
            (
                "device ID",
                match &self.device_id {
                    Ok(id) | Err(id) => id.clone(),
                },
            ),
        ]
    }

    /// As `carebook --version` prints them (and the About box copies them).
    pub fn text(&self) -> String {
        let mut out = format!("carebook {}\n", self.version);
        for (label, value) in self.rows().into_iter().skip(1) {
            out.push_str(&format!("{label}: {value}\n"));
        }
        out
    }
}
