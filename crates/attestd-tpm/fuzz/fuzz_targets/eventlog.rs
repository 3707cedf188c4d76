//! Any bytes: the event log parser, replay and claim building never panic.
#![no_main]

use attestd_tpm::eventlog::EventLog;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(log) = EventLog::parse(data) {
        let _ = log.replay();
        let _ = log.to_claim();
    }
});
