//! The fault and attack suite's runner: `chaos [--seeds N] [--from S] [--seed S] [--ci]`
//! plays N seeded schedules (from seed S, default 1) one after another, prints a line per
//! seed (a failing one with its schedule, to replay with `--seed`), and ends with a summary
//! line saying how many converged. It exits non-zero when any did not. With `--child` it is
//! instead one computer of a run, as a process of its own (the suite kills it with SIGKILL).

use std::time::Instant;

use carebook_tests::chaos::{self, Scale};

fn main() {
    let all: Vec<String> = std::env::args().collect();
    if all.get(1).map(String::as_str) == Some("--child") {
        chaos::child::serve(&all[2..]);
    }
    let exe = std::env::current_exe().ok();
    let mut seeds = 200u64;
    let mut from = 1u64;
    let mut scale = Scale::FULL;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut number = |what: &str| -> u64 {
            args.next()
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| usage(&format!("{what} needs a number")))
        };
        match a.as_str() {
            "--seeds" => seeds = number("--seeds"),
            "--from" => from = number("--from"),
            "--seed" => {
                from = number("--seed");
                seeds = 1;
            }
            "--ci" => scale = Scale::CI,
            other => usage(&format!("unknown argument {other}")),
        }
    }
    let mut good = 0;
    for seed in from..from + seeds {
        let t = Instant::now();
        match chaos::run(seed, scale, exe.as_deref()) {
            Ok(o) => {
                good += 1;
                println!(
                    "seed {seed}: converged ({} computers, {} writes, {} steps, {:.1} s)",
                    o.computers,
                    o.writes,
                    o.steps.len(),
                    t.elapsed().as_secs_f64()
                );
            }
            Err(e) => println!("FAILED {e}"),
        }
    }
    println!("chaos: {good}/{seeds} seeds converged");
    if good != seeds {
        std::process::exit(1);
    }
}

fn usage(why: &str) -> ! {
    eprintln!("{why}\nusage: chaos [--seeds N] [--from S] [--seed S] [--ci]");
    std::process::exit(2);
}
