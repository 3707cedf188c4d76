//! Real TCG event logs (../shared/vectors/tpm): every log replays to the PCR values its source
//! project asserts; corrupted and truncated logs fail with a code and never panic.

use std::collections::BTreeMap;
use std::path::PathBuf;

use attestd_tpm::eventlog::{EventLog, HashAlg};
use serde_json::Value;

fn dir() -> PathBuf {
    attestd_testkit::vectors_dir().join("tpm")
}

fn read(rel: &str) -> Vec<u8> {
    std::fs::read(dir().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

fn expected() -> BTreeMap<String, Value> {
    let text = std::fs::read_to_string(dir().join("go-tpm-tools/eventlogs/expected_pcrs.derived.json"))
        .expect("expected PCRs");
    serde_json::from_str(&text).expect("json")
}

#[test]
fn every_real_log_replays_to_its_asserted_pcrs() {
    let mut checked = 0;
    let cases = expected();
    let listed: usize = cases
        .values()
        .map(|c| {
            c["banks"]
                .as_object()
                .map_or(0, |b| b.values().map(|p| p.as_object().map_or(0, |p| p.len())).sum())
        })
        .sum();
    for (name, case) in cases {
        let file = case["file"].as_str().expect("file");
        let log =
            EventLog::parse(&read(&format!("go-tpm-tools/eventlogs/{file}"))).unwrap_or_else(|e| panic!("{name}: {e}"));
        let replayed = log.replay();
        for (bank, pcrs) in case["banks"].as_object().expect("banks") {
            let alg = match bank.as_str() {
                "SHA1" => HashAlg::Sha1,
                "SHA256" => HashAlg::Sha256,
                other => panic!("bank {other}"),
            };
            let values = &replayed
                .iter()
                .find(|(a, _)| *a == alg)
                .unwrap_or_else(|| panic!("{name}: no {bank} bank"))
                .1;
            for (index, hex) in pcrs.as_object().expect("pcrs") {
                let index: u32 = index.parse().expect("index");
                let got = values.iter().find(|(i, _)| *i == index).map(|(_, v)| hex::encode(v));
                assert_eq!(got.as_deref(), hex.as_str(), "{name} {bank} PCR {index}");
                checked += 1;
            }
        }
        // The claim has one entry per event, numbered from 1.
        let claim = log.to_claim();
        let events = claim["Events"].as_array().expect("events");
        assert_eq!(events.len(), log.events.len());
        assert_eq!(events[0]["EventSeq"], 1);
    }
    assert_eq!(checked, listed, "every listed PCR value was checked");
    assert!(checked >= 200, "only {checked} PCR values listed");
}

#[test]
fn decoded_events_have_maa_shapes() {
    let log = EventLog::parse(&read("go-tpm-tools/eventlogs/rhel8-uefi.bin")).expect("parses");
    assert!(log.crypto_agile);
    let claim = log.to_claim();
    let events = claim["Events"].as_array().expect("events");
    let secure_boot = events
        .iter()
        .find(|e| {
            e["EventTypeString"] == "EV_EFI_VARIABLE_DRIVER_CONFIG" && e["ProcessedData"]["UnicodeName"] == "SecureBoot"
        })
        .expect("SecureBoot variable");
    assert_eq!(
        secure_boot["ProcessedData"]["VariableGuid"],
        "8BE4DF61-93CA-11D2-AA0D-00E098032B8C"
    );
    assert_eq!(
        secure_boot["ProcessedData"]["VariableData"], "AQ",
        "secure boot on (RHEL 8 GCE has it on)"
    );
    assert!(
        events
            .iter()
            .any(|e| e["EventTypeString"] == "EV_SEPARATOR" && e["ProcessedData"]["CappedHash[SHA256]"].is_string())
    );
    assert!(
        events
            .iter()
            .any(|e| e["EventTypeString"] == "EV_EFI_BOOT_SERVICES_APPLICATION"
                && e["ProcessedData"]["DevicePath"].is_array())
    );
    // Off on the no-secure-boot Ubuntu image.
    let off = EventLog::parse(&read("go-tpm-tools/eventlogs/ubuntu-2104-no-secure-boot.bin"))
        .expect("parses")
        .to_claim();
    let sb = off["Events"]
        .as_array()
        .expect("events")
        .iter()
        .find(|e| e["ProcessedData"]["UnicodeName"] == "SecureBoot")
        .expect("SecureBoot variable")
        .clone();
    assert_eq!(sb["ProcessedData"]["VariableData"], "AA");
}

#[test]
fn keylime_logs() {
    for good in [
        "keylime/binary_bios_measurements",
        "keylime/binary_bios_measurements-secureboot",
    ] {
        let log = EventLog::parse(&read(good)).unwrap_or_else(|e| panic!("{good}: {e}"));
        assert!(log.events.len() > 10, "{good}");
    }
    let mb = read("keylime/mb_log.b64");
    let text: String = std::str::from_utf8(&mb).expect("text").split_whitespace().collect();
    let decoded = base64_decode(&text);
    let log = EventLog::parse(&decoded).expect("keylime issue #1153 log parses");
    assert!(log.banks.contains(&HashAlg::Sha256));
    assert_eq!(
        EventLog::parse(&read("keylime/binary_bios_measurements-empty"))
            .expect_err("empty")
            .code(),
        "EventLogEmpty"
    );
    let bogus = EventLog::parse(&read("keylime/binary_bios_measurements-bogus")).expect_err("bogus");
    assert!(
        matches!(bogus.code(), "EventLogTruncated" | "EventLogMalformed"),
        "{bogus}"
    );
}

#[test]
fn truncations_and_corruptions_fail_cleanly() {
    let full = read("go-tpm-tools/eventlogs/ubuntu-2404-amd-sevsnp.bin");
    let complete = EventLog::parse(&full).expect("parses");
    // Every prefix either parses to fewer events or fails with a code; none panics.
    let mut failures = 0;
    for cut in (1..full.len()).step_by(7) {
        match EventLog::parse(&full[..cut]) {
            Ok(log) => assert!(log.events.len() <= complete.events.len()),
            Err(e) => {
                assert!(matches!(e.code(), "EventLogTruncated" | "EventLogMalformed"), "{e}");
                failures += 1;
            }
        }
    }
    assert!(failures > 100);
    // Single-byte corruptions anywhere never panic.
    let mut state = 0x2545_f491_4f6c_dd1du64;
    for _ in 0..3000 {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let mut bad = full.clone();
        let i = (state as usize) % bad.len();
        bad[i] ^= (state >> 32) as u8 | 1;
        let _ = EventLog::parse(&bad).map(|l| (l.replay(), l.to_claim()));
    }
}

fn base64_decode(s: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.decode(s).expect("base64")
}

/// The GPT event of every real log that has one decodes: `EFI PART` header, partitions with
/// ordered LBAs inside the usable range, and an EFI System Partition.
#[test]
fn gpt_events_decode_their_partition_tables() {
    const ESP: &str = "C12A7328-F81F-11D2-BA4B-00A0C93EC93B";
    let mut decoded = 0;
    for entry in std::fs::read_dir(dir().join("go-tpm-tools/eventlogs")).expect("dir") {
        let path = entry.expect("entry").path();
        if path.extension().is_none_or(|e| e != "bin") {
            continue;
        }
        let log = EventLog::parse(&std::fs::read(&path).expect("read")).expect("parses");
        let claim = log.to_claim();
        let gpt: Vec<&Value> = claim["Events"]
            .as_array()
            .expect("events")
            .iter()
            .filter(|e| e["EventTypeString"] == "EV_EFI_GPT_EVENT")
            .collect();
        for e in gpt {
            let p = &e["ProcessedData"];
            assert_eq!(p["Header"]["Signature"], "EFI PART", "{}: {e}", path.display());
            let parts = p["Partitions"].as_array().expect("partitions");
            assert_eq!(p["NumberOfPartitions"].as_u64(), Some(parts.len() as u64));
            assert!(!parts.is_empty(), "{}", path.display());
            let (first, last) = (
                p["Header"]["FirstUsableLBA"].as_u64().expect("first"),
                p["Header"]["LastUsableLBA"].as_u64().expect("last"),
            );
            for part in parts {
                let (s, e) = (
                    part["StartingLBA"].as_u64().expect("s"),
                    part["EndingLBA"].as_u64().expect("e"),
                );
                assert!(first <= s && s <= e && e <= last, "{}: {part}", path.display());
            }
            assert!(
                parts.iter().any(|x| x["PartitionTypeGUID"] == ESP),
                "{}: no ESP",
                path.display()
            );
            decoded += 1;
        }
    }
    assert!(decoded >= 10, "only {decoded} GPT events decoded");
}
