//! Builds the CRR engine (a SQLite extension, cdylib) so that `cargo run` and `cargo test`
//! from a fresh clone find it without manual steps. It cannot be an ordinary dependency: its
//! bundled SQLite would clash with rusqlite's at link time. The library is built once, in
//! release mode, into `target/engine` (a name without a dash: cargo-deb refuses a
//! `target/<name-with-dash>/release/` path as a cross-compilation one); the store finds it
//! there (installers put it where the store looks, e.g. /usr/lib/carebook).

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

fn lib_name() -> String {
    format!(
        "{}carebook_crr{}",
        env::consts::DLL_PREFIX,
        env::consts::DLL_SUFFIX
    )
}

fn main() {
    let manifest = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let workspace = manifest.parent().expect("sync/ sits in the workspace");
    let crr = manifest.join("crr");
    println!("cargo:rerun-if-changed={}", crr.join("src").display());
    println!(
        "cargo:rerun-if-changed={}",
        crr.join("Cargo.toml").display()
    );
    println!("cargo:rerun-if-env-changed=CAREBOOK_CRR_LIB");

    // OUT_DIR is <target>/[<triple>/]<profile>/build/<pkg>-<hash>/out
    let out = PathBuf::from(env::var("OUT_DIR").expect("set by cargo"));
    let profile_dir = out.ancestors().nth(3).expect("cargo's OUT_DIR layout");
    let target_dir = target_root(profile_dir);
    let ext_target = target_dir.join("engine");

    let cargo = env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.args([
        "build",
        "--release",
        "--lib",
        "-p",
        "carebook-crr",
        "--manifest-path",
    ])
    .arg(workspace.join("Cargo.toml"))
    .arg("--target-dir")
    .arg(&ext_target);
    for var in [
        "CARGO_TARGET_DIR",
        "CARGO_ENCODED_RUSTFLAGS",
        "RUSTFLAGS",
        "CARGO_BUILD_TARGET",
    ] {
        cmd.env_remove(var);
    }
    let status = cmd
        .status()
        .expect("could not run cargo to build the CRR engine");
    assert!(
        status.success(),
        "building the CRR engine (carebook-crr) failed"
    );

    let built = ext_target.join("release").join(lib_name());
    println!("cargo:rustc-env=CAREBOOK_CRR_BUILT={}", built.display());
}

/// The target directory: the parent of the profile directory, or of the triple directory.
fn target_root(profile_dir: &Path) -> PathBuf {
    let parent = profile_dir.parent().expect("profile dir has a parent");
    if parent.join("CACHEDIR.TAG").exists() || parent.file_name().is_some_and(|n| n == "target") {
        parent.to_path_buf()
    } else {
        parent.parent().unwrap_or(parent).to_path_buf()
    }
}
