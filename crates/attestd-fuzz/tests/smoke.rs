//! Every fuzz target runs for two seconds in the test suite without a panic; the long runs
//! (`cargo run --release -p attestd-fuzz -- all 600`) are reported in the project notes.

use std::time::Duration;

#[test]
fn every_target_survives_two_seconds() {
    let vectors = attestd_testkit::vectors_dir();
    let out = std::env::temp_dir().join("attestd-fuzz-smoke");
    for t in attestd_fuzz::TARGETS {
        let r = attestd_fuzz::fuzz(t, &vectors, Duration::from_secs(2), 7, &out).expect("seeds");
        assert!(r.executions > 100, "{}: {}", t.name, r.executions);
        assert!(r.findings.is_empty(), "{} panicked on {:?}", t.name, r.findings);
    }
}
