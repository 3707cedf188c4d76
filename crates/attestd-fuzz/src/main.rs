//! `attestd-fuzz TARGET SECONDS [SEED]`: see the library docs.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use attestd_fuzz::{TARGETS, fuzz};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(name), Some(seconds)) = (args.first(), args.get(1).and_then(|s| s.parse::<u64>().ok())) else {
        eprintln!("usage: attestd-fuzz TARGET|all SECONDS [SEED]");
        return ExitCode::from(2);
    };
    let seed = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(0x00a7_7e57);
    let vectors = attestd_testkit::vectors_dir();
    let out = PathBuf::from("target/fuzz-findings");
    let targets: Vec<_> = TARGETS.iter().filter(|t| name == "all" || t.name == name).collect();
    if targets.is_empty() {
        eprintln!("unknown target '{name}'");
        return ExitCode::from(2);
    }
    let mut failed = false;
    for t in targets {
        match fuzz(t, &vectors, Duration::from_secs(seconds), seed, &out) {
            Ok(r) => {
                println!(
                    "{}: {} executions in {seconds} s, {} panics",
                    t.name,
                    r.executions,
                    r.findings.len()
                );
                for f in &r.findings {
                    println!("  finding: {}", f.display());
                }
                failed |= !r.findings.is_empty();
            }
            Err(e) => {
                eprintln!("{}: {e}", t.name);
                failed = true;
            }
        }
    }
    if failed { ExitCode::FAILURE } else { ExitCode::SUCCESS }
}
