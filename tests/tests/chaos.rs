//! A few seeds of the fault and attack suite (the runner plays many more:
//! `cargo run -p carebook-tests --bin chaos -- --seeds 200`).

use std::path::Path;

use carebook_tests::chaos::{self, Scale};

#[test]
fn faults_and_attacks_heal_to_identical_computers_with_nothing_lost() {
    for seed in [1, 2, 3] {
        if let Err(e) = chaos::run(
            seed,
            Scale::CI,
            Some(Path::new(env!("CARGO_BIN_EXE_chaos"))),
        ) {
            panic!("{e}\nreplay: cargo run -p carebook-tests --bin chaos -- --seed {seed} --ci");
        }
    }
}
