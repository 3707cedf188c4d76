//! Windows measurements and VBS reports at the appraisal: SIPA events decoded into `events`,
//! MAA's 1.0 boot booleans (emitted only when the verified log decides them), the VBS enclave
//! report verified with the VSM identity key the log measures, and a tamper of each part.

#[path = "common/win.rs"]
#[allow(dead_code)]
mod win;

use std::time::SystemTime;

use attestd_tpm::aik::AikRoots;
use attestd_tpm::appraise::{Appraised, Requirements, TpmEvidence, appraise};
use attestd_tpm::eventlog::{EventLog, HashAlg};
use attestd_tpm::quote::{PublicKey, QuoteError};
use attestd_tpm::vbs::{VbsEvidence, VbsReport};
use aws_lc_rs::signature::{KeyPair, RsaKeyPair};
use serde_json::Value;
use win::{Boot, Identity};

const NONCE: &[u8] = b"challenge-0123456789abcdef012345";
const REPORT_SIGNED: &str = r#"{"challenge":"Y2hhbGxlbmdl","rp_data":"cnA"}"#;

fn ak_key(ak: &RsaKeyPair) -> PublicKey {
    let p = ak.public_key();
    PublicKey::Rsa {
        n: p.modulus().big_endian_without_leading_zero().to_vec(),
        e: 65537,
    }
}

/// Evidence for `log`, quoting the SHA-256 PCRs of `mask`.
fn evidence(ak: &RsaKeyPair, log: Vec<u8>, mask: u32) -> TpmEvidence {
    let pcrs = win::pcrs_after(&log);
    let (q, s) = win::quote(ak, NONCE, &pcrs, mask, 1);
    TpmEvidence {
        logs: vec![log],
        aik_pub: Some(ak_key(ak)),
        pcrs: vec![(
            HashAlg::Sha256,
            pcrs.into_iter().enumerate().map(|(i, v)| (i as u32, v)).collect(),
        )],
        quote: q,
        signature: win::tpmt(&s),
        ..TpmEvidence::default()
    }
}

fn run(ev: &TpmEvidence, mask: u32) -> Result<Appraised, QuoteError> {
    let roots = AikRoots::from_der(&[]).expect("roots");
    appraise(
        ev,
        &Requirements {
            qualifying_data: NONCE,
            required_pcr_mask: mask,
            require_valid_aik_cert: false,
            roots: &roots,
            now: SystemTime::now(),
        },
    )
}

fn flag(a: &Appraised, name: &str) -> Option<bool> {
    a.claims.value(name).and_then(|v| v.as_bool())
}

const ALL: u32 = 0xFF_FFFF;

#[test]
fn sipa_events_decode_into_maa_shapes() {
    let log = win::windows_log(&Boot::default());
    let parsed = EventLog::parse(&log).expect("log");
    let claim = parsed.to_claim();
    let events = claim["Events"].as_array().expect("events");
    let tags: Vec<&Value> = events.iter().filter(|e| e["EventType"] == 6).collect();
    assert_eq!(tags.len(), 3);
    assert!(tags.iter().all(|e| e["EventTypeString"] == "EV_EVENT_TAG"));
    let tb = &tags[0]["ProcessedData"]["EVENT_TRUSTBOUNDARY"];
    assert_eq!(tb["EVENT_BOOTCOUNTER"], 363);
    assert_eq!(tb["EVENT_BOOTDEBUGGING"], false);
    assert_eq!(tb["EVENT_CODEINTEGRITY"], true);
    assert_eq!(tb["EVENT_SAFEMODE"], false);
    assert_eq!(tb["EVENT_WINPE"], false);
    assert_eq!(tb["EVENT_VBS_IOMMU_REQUIRED"], true);
    assert_eq!(tb["EVENT_VSM_LAUNCH_TYPE"]["Value"], 1);
    assert_eq!(tb["EVENT_TRANSFER_CONTROL"]["String"], "SiBootAppOsLoader");
    assert_eq!(tb["EVENT_BITLOCKER_UNLOCK"]["String"], "TPM");
    assert_eq!(tb["EVENT_BITLOCKER_UNLOCK"]["Value"], 4);
    let modules = tags[1]["ProcessedData"]["EVENT_LOADEDMODULE_AGGREGATION"]
        .as_array()
        .expect("a loaded module aggregation is a list");
    assert_eq!(modules.len(), 1);
    assert_eq!(modules[0]["EVENT_FILEPATH"], "\\Windows\\System32\\winload.efi");
    assert_eq!(modules[0]["EVENT_IMAGEBASE"], 0x2000);
    assert_eq!(modules[0]["EVENT_AUTHENTICODEHASH"], win::b64(&[0xAB; 32]));
    // A measured IDK is shown with its key, a bad payload and an unknown tag as raw data.
    let k = win::rsa();
    let mut boot = Boot {
        idk: Some(win::idk_payload(&k)),
        ..Boot::default()
    };
    let claim = EventLog::parse(&win::windows_log(&boot)).expect("log").to_claim();
    let idks = &claim["Events"][3]["ProcessedData"]["EVENT_TRUSTBOUNDARY"]["EVENT_VSM_IDKS_INFO"];
    assert_eq!(idks["KeyAlgID"], 1);
    assert_eq!(idks["KeyBitLength"], 2048);
    assert_eq!(
        idks["Modulus"],
        win::b64(k.public_key().modulus().big_endian_without_leading_zero())
    );
    boot.idk = Some(vec![1, 2, 3]);
    let claim = EventLog::parse(&win::windows_log(&boot)).expect("log").to_claim();
    assert_eq!(
        claim["Events"][3]["ProcessedData"]["EVENT_TRUSTBOUNDARY"]["EVENT_VSM_IDKS_INFO"]["RawData"],
        "AQID"
    );
    let odd = win::agile_log(&[(12, 6, attestd_tpm::eventlog::sipa::encode(&[(0x0005_7777, vec![9])]))]);
    let claim = EventLog::parse(&odd).expect("log").to_claim();
    assert_eq!(claim["Events"][1]["ProcessedData"]["EVENT_00057777"]["RawData"], "CQ");
    // Data that is not SIPA events stays undecoded.
    let junk = win::agile_log(&[(12, 6, vec![1, 0, 0, 0, 99, 0, 0, 0])]);
    let claim = EventLog::parse(&junk).expect("log").to_claim();
    assert_eq!(claim["Events"][1]["ProcessedData"], Value::Null);
}

#[test]
fn boot_booleans_follow_the_verified_log() {
    let ak = win::rsa();
    let ok = run(&evidence(&ak, win::windows_log(&Boot::default()), ALL), ALL).expect("appraises");
    for name in [
        "secureBootEnabled",
        "bootDebuggingDisabled",
        "notSafeMode",
        "notWinPE",
        "iommuEnabled",
        "vbsEnabled",
    ] {
        assert_eq!(flag(&ok, name), Some(true), "{name}");
    }
    assert_eq!(flag(&ok, "vbsReportPresent"), Some(false));
    // Each setting turned the unsafe way flips its claim.
    let cases: [(&str, Boot); 5] = [
        (
            "bootDebuggingDisabled",
            Boot {
                boot_debugging: Some(true),
                ..Boot::default()
            },
        ),
        (
            "notSafeMode",
            Boot {
                safe_mode: Some(true),
                ..Boot::default()
            },
        ),
        (
            "notWinPE",
            Boot {
                win_pe: Some(true),
                ..Boot::default()
            },
        ),
        (
            "iommuEnabled",
            Boot {
                iommu_required: Some(false),
                ..Boot::default()
            },
        ),
        (
            "vbsEnabled",
            Boot {
                vsm_launch_type: Some(0),
                ..Boot::default()
            },
        ),
    ];
    for (name, boot) in cases {
        let a = run(&evidence(&ak, win::windows_log(&boot), ALL), ALL).expect("appraises");
        assert_eq!(flag(&a, name), Some(false), "{name}");
    }
    // No event either way: the claim is not emitted (never guessed true).
    let silent = Boot {
        boot_debugging: None,
        safe_mode: None,
        win_pe: None,
        iommu_required: None,
        vsm_launch_type: None,
        ..Boot::default()
    };
    let a = run(&evidence(&ak, win::windows_log(&silent), ALL), ALL).expect("appraises");
    for name in [
        "bootDebuggingDisabled",
        "notSafeMode",
        "notWinPE",
        "iommuEnabled",
        "vbsEnabled",
    ] {
        assert_eq!(a.claims.value(name), None, "{name} without evidence");
    }
    // The same events on a PCR the quote does not cover prove nothing.
    let unquoted = Boot {
        pcr: 14,
        boot_debugging: Some(false),
        ..Boot::default()
    };
    let mask = ALL & !(1 << 14);
    let a = run(&evidence(&ak, win::windows_log(&unquoted), mask), mask).expect("appraises");
    assert_eq!(a.claims.value("bootDebuggingDisabled"), None);
    assert_eq!(flag(&a, "secureBootEnabled"), Some(true), "PCR 7 is still quoted");
}

fn vbs_evidence(ak: &RsaKeyPair, idk: &RsaKeyPair, report: Vec<u8>) -> TpmEvidence {
    let boot = Boot {
        idk: Some(win::idk_payload(idk)),
        ..Boot::default()
    };
    let mut ev = evidence(ak, win::windows_log(&boot), ALL);
    ev.vbs = Some(VbsEvidence {
        report,
        report_signed: REPORT_SIGNED.to_owned(),
    });
    ev
}

#[test]
fn a_vbs_report_verifies_with_the_measured_idk() {
    let ak = win::rsa();
    let idk = win::rsa();
    let id = Identity::default();
    let report = win::vbs_report(&idk, &win::sha512(REPORT_SIGNED), &id, 1);
    let parsed = VbsReport::parse(&report).expect("report");
    assert_eq!(parsed.modules.len(), 1);
    assert_eq!(parsed.modules[0].name, "enclave.dll");
    let a = run(&vbs_evidence(&ak, &idk, report.clone()), ALL).expect("appraises");
    assert_eq!(flag(&a, "vbsReportPresent"), Some(true));
    assert_eq!(flag(&a, "vsmReportPresent"), Some(true));
    let s = |n: &str| a.claims.value(n).and_then(|v| v.as_str()).map(str::to_owned);
    let i = |n: &str| a.claims.value(n).and_then(|v| v.as_i64());
    // MAA's sample policy values (reference B.9 Ex 12) for a zero author and image 01 01 00…
    assert_eq!(
        s("enclaveAuthorId").as_deref(),
        Some("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
    );
    assert_eq!(s("enclaveImageId").as_deref(), Some("AQEAAAAAAAAAAAAAAAAAAA"));
    assert_eq!(s("enclaveOwnerId"), Some(win::b64(&[7; 32])));
    assert_eq!(s("enclaveFamilyId"), Some(win::b64(&[2; 16])));
    assert_eq!(i("enclaveSvn"), Some(3));
    assert_eq!(i("enclavePlatformSvn"), Some(9));
    assert_eq!(i("enclaveFlags"), Some(0));
    assert_eq!(a.vbs_report.as_ref().map(|r| r.identity.enclave_type), Some(0x10));
}

fn code(r: Result<Appraised, QuoteError>) -> &'static str {
    match r {
        Ok(_) => panic!("expected a failure"),
        Err(e) => e.code,
    }
}

#[test]
fn each_broken_part_of_a_vbs_report_has_its_code() {
    let ak = win::rsa();
    let idk = win::rsa();
    let id = Identity::default();
    let good = win::vbs_report(&idk, &win::sha512(REPORT_SIGNED), &id, 1);
    // EnclaveData over other text (report_signed changed by one space).
    let mut ev = vbs_evidence(&ak, &idk, good.clone());
    if let Some(v) = ev.vbs.as_mut() {
        v.report_signed = REPORT_SIGNED.replace(',', ", ");
    }
    assert_eq!(code(run(&ev, ALL)), "VbsReportDataMismatch");
    // A signed byte flipped (the identity's SVN) / the signature flipped.
    let mut t = good.clone();
    t[24 + 72 + 128] ^= 1;
    assert_eq!(code(run(&vbs_evidence(&ak, &idk, t), ALL)), "VbsReportSignatureInvalid");
    let mut t = good.clone();
    let last = t.len() - 1;
    t[last] ^= 1;
    assert_eq!(code(run(&vbs_evidence(&ak, &idk, t), ALL)), "VbsReportSignatureInvalid");
    // Signed by another key than the measured IDK.
    let other = win::rsa();
    let forged = win::vbs_report(&other, &win::sha512(REPORT_SIGNED), &id, 1);
    assert_eq!(
        code(run(&vbs_evidence(&ak, &idk, forged), ALL)),
        "VbsReportSignatureInvalid"
    );
    // No IDK measured; an IDK on an unquoted PCR.
    let mut ev = evidence(&ak, win::windows_log(&Boot::default()), ALL);
    ev.vbs = Some(VbsEvidence {
        report: good.clone(),
        report_signed: REPORT_SIGNED.to_owned(),
    });
    assert_eq!(code(run(&ev, ALL)), "VbsIdkMissing");
    let unquoted = Boot {
        idk: Some(win::idk_payload(&idk)),
        pcr: 14,
        ..Boot::default()
    };
    let mask = ALL & !(1 << 14);
    let mut ev = evidence(&ak, win::windows_log(&unquoted), mask);
    ev.vbs = Some(VbsEvidence {
        report: good.clone(),
        report_signed: REPORT_SIGNED.to_owned(),
    });
    assert_eq!(code(run(&ev, mask)), "VbsIdkMissing");
    // Unsupported version; sizes that do not add up; every truncation.
    let v2 = win::vbs_report(&idk, &win::sha512(REPORT_SIGNED), &id, 2);
    assert_eq!(code(run(&vbs_evidence(&ak, &idk, v2), ALL)), "VbsReportUnsupported");
    let mut t = good.clone();
    t.push(0);
    assert_eq!(code(run(&vbs_evidence(&ak, &idk, t), ALL)), "VbsReportMalformed");
    for n in 0..good.len() {
        let e = VbsReport::parse(&good[..n]).expect_err("truncated");
        assert_eq!(e.code, "VbsReportMalformed", "truncated at {n}");
    }
    // One bit flipped in every byte never panics and never verifies (but the header's Reserved
    // field, 20..24, which nothing signs or defines).
    let keys = attestd_tpm::eventlog::sipa::idk_info(&win::idk_payload(&idk))
        .into_iter()
        .collect::<Vec<_>>();
    for at in (0..good.len()).filter(|a| !(20..24).contains(a)) {
        let mut t = good.clone();
        t[at] ^= 0x10;
        if let Ok(r) = VbsReport::parse(&t) {
            assert!(
                r.verify(REPORT_SIGNED, &keys).is_err(),
                "byte {at} flipped still verifies"
            );
        }
    }
    assert!(
        VbsReport::parse(&good)
            .expect("good")
            .verify(REPORT_SIGNED, &keys)
            .is_ok()
    );
}
