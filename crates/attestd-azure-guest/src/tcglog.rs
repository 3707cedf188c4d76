//! The guest's TCG boot event log (`TcgLogs`): replayed against the PCRs the vTPM quoted, then read
//! for MAA's Windows boot-configuration claims (`x-ms-azurevm-*-enabled`, reference C.5.3).
//!
//! Only events on PCRs that the quote covers and that the log reproduces count: an event on any
//! other PCR proves nothing. A claim is emitted only when the log has an event that decides it
//! (Linux guests log no Windows SIPA events and get none of these claims).

use attestd_evidence::EvidenceError;
use attestd_tpm::eventlog::sipa::{self, le_bool, le_uint};
use attestd_tpm::eventlog::{EventLog, HashAlg};
use serde_json::{Value, json};

use crate::ErrorCode;

/// SIPA tags this module reads (Windows SDK `wbcl.h`), besides those `sipa` names.
const CODEINTEGRITY: u32 = 0x0005_0002;
const TESTSIGNING: u32 = 0x0005_0003;
const HYPERVISOR_DEBUG: u32 = 0x0005_000D;
const FLIGHTSIGNING: u32 = 0x0005_0021;
const VBS_HVCI_POLICY: u32 = 0x000A_0007;
/// Events inside `ELAM_AGGREGATION` (`ELAM_KEYNAME`, `_CONFIGURATION`, `_POLICY`, `_MEASURED`).
const ELAM_EVENTS: std::ops::RangeInclusive<u32> = 0x0009_0001..=0x0009_0004;

/// Replays `log` against the quoted SHA-256 `pcrs` (index, value) and returns the boot claims.
pub fn boot_claims(log: &[u8], pcrs: &[(u32, Vec<u8>)]) -> Result<Vec<(&'static str, Value)>, EvidenceError> {
    let parsed =
        EventLog::parse(log).map_err(|e| ErrorCode::TcgLogMalformed.error(format!("TcgLogs: {} ({})", e, e.code())))?;
    let replayed = parsed.replay();
    let sha256 = replayed
        .iter()
        .find(|(alg, _)| *alg == HashAlg::Sha256)
        .map(|(_, v)| v.as_slice())
        .ok_or_else(|| ErrorCode::TcgLogMalformed.error("TcgLogs records no SHA-256 bank (the vTPM quotes SHA-256)"))?;
    let mut trusted = Vec::new();
    for (index, value) in sha256 {
        match pcrs.iter().find(|(i, _)| i == index) {
            Some((_, quoted)) if quoted == value => trusted.push(*index),
            Some(_) => {
                return Err(ErrorCode::TcgLogPcrMismatch
                    .error(format!("TcgLogs does not replay to the quoted value of PCR {index}")));
            }
            // A PCR the quote does not cover: its events are ignored below.
            None => {}
        }
    }
    let events = sipa::measured(&parsed.events, &|pcr| trusted.contains(&pcr));
    Ok(claims(&events))
}

/// MAA's claims from measured SIPA events (tag, payload).
fn claims(events: &[(u32, &[u8])]) -> Vec<(&'static str, Value)> {
    let flags = |tag: u32| -> Vec<bool> {
        events
            .iter()
            .filter(|(t, _)| *t == tag)
            // A malformed payload cannot prove the safe value.
            .map(|(_, d)| le_bool(d).unwrap_or(tag != CODEINTEGRITY))
            .collect()
    };
    let any_on = |tag: u32| {
        let v = flags(tag);
        (!v.is_empty()).then(|| v.iter().any(|&on| on))
    };
    let mut out = Vec::new();
    let boot_debug = any_on(sipa::BOOTDEBUGGING);
    let kernel_debug = any_on(sipa::OSKERNELDEBUG);
    let hypervisor_debug = any_on(HYPERVISOR_DEBUG);
    for (name, value) in [
        ("x-ms-azurevm-bootdebug-enabled", boot_debug),
        ("x-ms-azurevm-kerneldebug-enabled", kernel_debug),
        ("x-ms-azurevm-hypervisordebug-enabled", hypervisor_debug),
        ("x-ms-azurevm-testsigning-enabled", any_on(TESTSIGNING)),
        ("x-ms-azurevm-flightsigning-enabled", any_on(FLIGHTSIGNING)),
    ] {
        if let Some(v) = value {
            out.push((name, json!(v)));
        }
    }
    // Code integrity off means signing is disabled.
    let ci = flags(CODEINTEGRITY);
    if !ci.is_empty() {
        out.push(("x-ms-azurevm-signingdisabled", json!(ci.iter().any(|&on| !on))));
    }
    let debuggers = [boot_debug, kernel_debug, hypervisor_debug];
    if debuggers.iter().any(Option::is_some) {
        out.push((
            "x-ms-azurevm-debuggersdisabled",
            json!(!debuggers.contains(&Some(true))),
        ));
    }
    let windows = events
        .iter()
        .any(|(t, _)| [sipa::BOOTDEBUGGING, sipa::OSKERNELDEBUG, CODEINTEGRITY].contains(t));
    if windows {
        out.push((
            "x-ms-azurevm-elam-enabled",
            json!(events.iter().any(|(t, _)| ELAM_EVENTS.contains(t))),
        ));
    }
    if let Some(policy) = events
        .iter()
        .filter(|(t, _)| *t == VBS_HVCI_POLICY)
        .find_map(|(_, d)| le_uint(d))
    {
        out.push(("x-ms-azurevm-hvci-policy", json!(policy)));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(c: &[(&'static str, Value)]) -> Vec<(&'static str, Value)> {
        let mut c = c.to_vec();
        c.sort_by_key(|(n, _)| *n);
        c
    }

    #[test]
    fn a_clean_windows_boot() {
        let events: Vec<(u32, &[u8])> = vec![
            (sipa::BOOTDEBUGGING, &[0]),
            (sipa::OSKERNELDEBUG, &[0]),
            (CODEINTEGRITY, &[1]),
            (TESTSIGNING, &[0]),
            (FLIGHTSIGNING, &[0]),
            (HYPERVISOR_DEBUG, &[0]),
            (0x0009_0001, b"k\0"),
            (VBS_HVCI_POLICY, &[2, 0, 0, 0]),
        ];
        let expected = vec![
            ("x-ms-azurevm-bootdebug-enabled", json!(false)),
            ("x-ms-azurevm-debuggersdisabled", json!(true)),
            ("x-ms-azurevm-elam-enabled", json!(true)),
            ("x-ms-azurevm-flightsigning-enabled", json!(false)),
            ("x-ms-azurevm-hvci-policy", json!(2)),
            ("x-ms-azurevm-hypervisordebug-enabled", json!(false)),
            ("x-ms-azurevm-kerneldebug-enabled", json!(false)),
            ("x-ms-azurevm-signingdisabled", json!(false)),
            ("x-ms-azurevm-testsigning-enabled", json!(false)),
        ];
        assert_eq!(names(&claims(&events)), expected);
    }

    #[test]
    fn each_unsafe_setting_shows() {
        let c = names(&claims(&[(sipa::OSKERNELDEBUG, &[1]), (CODEINTEGRITY, &[0])]));
        assert!(c.contains(&("x-ms-azurevm-kerneldebug-enabled", json!(true))));
        assert!(c.contains(&("x-ms-azurevm-debuggersdisabled", json!(false))));
        assert!(c.contains(&("x-ms-azurevm-signingdisabled", json!(true))));
        assert!(c.contains(&("x-ms-azurevm-elam-enabled", json!(false))));
        // A malformed payload never proves the safe value.
        let c = names(&claims(&[(sipa::BOOTDEBUGGING, &[0, 0]), (CODEINTEGRITY, &[])]));
        assert!(c.contains(&("x-ms-azurevm-bootdebug-enabled", json!(true))));
        assert!(c.contains(&("x-ms-azurevm-signingdisabled", json!(true))));
    }

    #[test]
    fn no_windows_events_no_claims() {
        assert!(claims(&[]).is_empty());
    }
}
