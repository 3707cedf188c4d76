//! MAA's v1 TPM request (`attReq`, Windows PCP platform claims) and VBS requests (v1 and v2)
//! through the verifier's exchange: a software Windows attester (RSA AK, synthesized log with
//! SIPA events, PCP claim blobs, a VBS report signed by a measured IDK). v1 must give the same
//! claims as v2 for the same evidence; each check fails with its own code.

#[path = "common/win.rs"]
#[allow(dead_code)]
mod win;

use std::sync::Arc;
use std::time::SystemTime;

use attestd_evidence::{AttestationType, ClaimSet, EvidenceError, Exchange, ExchangeContext, Step};
use attestd_tpm::aik::AikRoots;
use attestd_tpm::eventlog::HashAlg;
use attestd_tpm::pcp;
use attestd_tpm::verifier::TpmVerifier;
use aws_lc_rs::signature::RsaKeyPair;
use serde_json::{Value, json};
use win::{Boot, Identity};

const SECRET: [u8; 32] = [5u8; 32];

fn ctx<'a>(now: SystemTime, configuration: &'a ClaimSet) -> ExchangeContext<'a> {
    ExchangeContext {
        attestation_type: AttestationType::Tpm,
        provider: "p1",
        now,
        configuration,
        secret: &SECRET,
        alert_webhook: None,
    }
}

struct Setup {
    v: TpmVerifier,
    config: ClaimSet,
    now: SystemTime,
}

impl Setup {
    fn new() -> Setup {
        let mut config = ClaimSet::new();
        config.add("require_valid_aik_cert", false);
        Setup {
            v: TpmVerifier::new(Arc::new(AikRoots::from_der(&[]).expect("roots"))),
            config,
            now: SystemTime::now(),
        }
    }

    fn challenge(&self) -> (String, String) {
        match win::ready(self.v.step(br#"{"type":"aikcert"}"#, ctx(self.now, &self.config))).expect("init") {
            Step::Reply(r) => (
                r["challenge"].as_str().expect("c").to_owned(),
                r["service_context"].as_str().expect("s").to_owned(),
            ),
            Step::Appraised { .. } => panic!("init must answer a challenge"),
        }
    }

    /// The incoming claims of `jws`, or the error code.
    fn attest(&self, jws: &str) -> Result<(ClaimSet, serde_json::Map<String, Value>), String> {
        let msg = serde_json::to_vec(&json!({ "request": jws })).expect("json");
        match win::ready(self.v.step(&msg, ctx(self.now, &self.config))) {
            Ok(Step::Appraised { appraisal, .. }) => {
                Ok((appraisal.incoming, appraisal.token_claims.into_iter().collect()))
            }
            Ok(Step::Reply(_)) => panic!("a request must be appraised"),
            Err(EvidenceError { code, .. }) => Err(code.into_owned()),
        }
    }
}

/// A Windows machine: its AK, attest key, IDK and boot log.
struct Machine {
    ak: RsaKeyPair,
    key: RsaKeyPair,
    idk: RsaKeyPair,
    log: Vec<u8>,
}

impl Machine {
    fn new() -> Machine {
        let idk = win::rsa();
        let boot = Boot {
            idk: Some(win::idk_payload(&idk)),
            ..Boot::default()
        };
        Machine {
            ak: win::rsa(),
            key: win::rsa(),
            log: win::windows_log(&boot),
            idk,
        }
    }

    /// A PCP platform claim (PAD2, SHA-256) over `challenge`, with `log` embedded.
    fn claim(&self, nonce: &[u8], pcrs: &[Vec<u8>], log: &[u8], reset: u32) -> Vec<u8> {
        let (q, sig) = win::quote(&self.ak, nonce, pcrs, 0xFF_FFFF, reset);
        pcp::encode(HashAlg::Sha256, pcrs, &q, &sig, log)
    }

    /// The v1 `att_data` object (as text) answering `challenge`, with `tpm_att_data` extra members.
    fn v1_data(&self, challenge: &str, sc: &str, current: &[u8], extra: &str) -> String {
        format!(
            r#"{{"rp_id":"https://rp.example","rp_data":"{}","challenge":"{challenge}","tpm_att_data":{{"aik_pub":{},"current_claim":"{}"{extra}}},"attest_key":{},"service_context":"{sc}"}}"#,
            win::b64(b"rp"),
            win::jwk(&self.ak),
            win::b64(current),
            win::jwk(&self.key),
        )
    }

    fn v1_basic(&self, challenge: &str, sc: &str, current: &[u8], extra: &str) -> String {
        let data = self.v1_data(challenge, sc, current, extra);
        win::jws(
            &self.key,
            "attReq",
            &format!(r#"{{"att_type":"basic","att_data":{data}}}"#),
        )
    }

    /// The v2 `att_data` object for the same evidence (the quote over the plain challenge).
    fn v2_data(&self, challenge: &str, sc: &str) -> String {
        let pcrs = win::pcrs_after(&self.log);
        let (q, sig) = win::quote(&self.ak, &win::unb64(challenge), &pcrs, 0xFF_FFFF, 1);
        let values: Vec<Value> = pcrs
            .iter()
            .enumerate()
            .map(|(i, v)| json!({"index": i, "digest": win::b64(v)}))
            .collect();
        let current = json!({"logs": [{"type": "TCG", "log": win::b64(&self.log)}], "aik_pub": win::jwk(&self.ak),
                             "pcrs": [{"algorithm": 11, "values": values}],
                             "quote": win::b64(&q), "signature": win::b64(&win::tpmt(&sig))});
        format!(
            r#"{{"rp_id":"https://rp.example","rp_data":"{}","challenge":"{challenge}","tpm_att_data":{{"current_attestation":{current}}},"request_key":{{"jwk":{}}},"service_context":"{sc}"}}"#,
            win::b64(b"rp"),
            win::jwk(&self.key),
        )
    }
}

/// The claims v1 and v2 share (the request key claim differs in shape: v1 has no `info`).
const SHARED: &[&str] = &[
    "aikValidated",
    "aikPubHash",
    "tpmVersion",
    "secureBootEnabled",
    "iommuEnabled",
    "bootDebuggingDisabled",
    "notSafeMode",
    "notWinPE",
    "vbsEnabled",
    "vbsReportPresent",
    "events",
    "pcrs",
];

fn json_of(c: &ClaimSet, name: &str) -> Value {
    serde_json::to_value(c.value(name).unwrap_or_else(|| panic!("claim {name}"))).expect("claim json")
}

#[test]
fn a_v1_request_gives_the_claims_of_v2() {
    let s = Setup::new();
    let m = Machine::new();
    let pcrs = win::pcrs_after(&m.log);
    let (ch, sc) = s.challenge();
    let current = m.claim(&win::unb64(&ch), &pcrs, &m.log, 1);
    let (v1, tokens) = s.attest(&m.v1_basic(&ch, &sc, &current, "")).expect("v1 appraised");
    let (ch2, sc2) = s.challenge();
    let v2_jws = win::jws(
        &m.key,
        "attReqV2",
        &format!(r#"{{"att_type":"basic","att_data":{}}}"#, m.v2_data(&ch2, &sc2)),
    );
    let (v2, _) = s.attest(&v2_jws).expect("v2 appraised");
    for name in SHARED {
        assert_eq!(json_of(&v1, name), json_of(&v2, name), "{name}");
    }
    assert_eq!(json_of(&v1, "notWinPE"), json!(true));
    assert_eq!(json_of(&v1, "events")["Events"].as_array().map(Vec::len), Some(6));
    assert_eq!(
        tokens["cnf"]["jwk"],
        win::jwk(&m.key),
        "the attest key is the token's cnf"
    );
    assert_eq!(tokens["rp_data"], json!(win::b64(b"rp")));
    assert!(v1.value("bootEvents").is_none());

    // The log sent beside the claim (srtm_boot_log) when the claim embeds none.
    let (ch, sc) = s.challenge();
    let bare = m.claim(&win::unb64(&ch), &pcrs, &[], 1);
    let extra = format!(r#","srtm_boot_log":"{}""#, win::b64(&m.log));
    let (c, _) = s.attest(&m.v1_basic(&ch, &sc, &bare, &extra)).expect("boot log");
    assert_eq!(json_of(&c, "events"), json_of(&v1, "events"));
}

#[test]
fn a_boot_claim_gives_boot_events_of_the_same_boot() {
    let s = Setup::new();
    let m = Machine::new();
    let pcrs = win::pcrs_after(&m.log);
    // The pre-hibernate state: another log, quoted earlier (any nonce), the same reset count.
    let boot_log = win::windows_log(&Boot::default());
    let boot_pcrs = win::pcrs_after(&boot_log);
    let (ch, sc) = s.challenge();
    let current = m.claim(&win::unb64(&ch), &pcrs, &m.log, 1);
    let boot = m.claim(b"earlier", &boot_pcrs, &boot_log, 1);
    let extra = format!(r#","boot_claim":"{}""#, win::b64(&boot));
    let (c, _) = s.attest(&m.v1_basic(&ch, &sc, &current, &extra)).expect("appraised");
    let events = json_of(&c, "bootEvents");
    assert_eq!(events["Events"].as_array().map(Vec::len), Some(6));
    assert_ne!(events, json_of(&c, "events"), "bootEvents are the boot claim's");
    // Another boot cycle, another AK, a boot log that does not replay.
    let other_boot = m.claim(b"earlier", &boot_pcrs, &boot_log, 2);
    let extra = format!(r#","boot_claim":"{}""#, win::b64(&other_boot));
    let (ch, sc) = s.challenge();
    let current = m.claim(&win::unb64(&ch), &pcrs, &m.log, 1);
    assert_eq!(
        s.attest(&m.v1_basic(&ch, &sc, &current, &extra)).expect_err("reset"),
        "BootAttestationMismatch"
    );
    let stranger = Machine::new();
    let foreign = stranger.claim(b"earlier", &boot_pcrs, &boot_log, 1);
    let extra = format!(r#","boot_claim":"{}""#, win::b64(&foreign));
    assert_eq!(
        s.attest(&m.v1_basic(&ch, &sc, &current, &extra)).expect_err("ak"),
        "QuoteSignatureInvalid"
    );
    let wrong_log = m.claim(b"earlier", &boot_pcrs, &m.log, 1);
    let extra = format!(r#","boot_claim":"{}""#, win::b64(&wrong_log));
    assert_eq!(
        s.attest(&m.v1_basic(&ch, &sc, &current, &extra)).expect_err("log"),
        "EventLogPcrMismatch"
    );
}

#[test]
fn each_broken_v1_check_has_its_code() {
    let s = Setup::new();
    let m = Machine::new();
    let pcrs = win::pcrs_after(&m.log);
    let (ch, sc) = s.challenge();
    let good = m.claim(&win::unb64(&ch), &pcrs, &m.log, 1);
    let attest = |claim: &[u8]| s.attest(&m.v1_basic(&ch, &sc, claim, "")).expect_err("must fail");
    assert!(
        s.attest(&m.v1_basic(&ch, &sc, &good, "")).is_ok(),
        "the good claim passes"
    );
    // TPM 1.2, in both spellings of the platform; bad magic; sizes that do not add up.
    for platform in [1u32, 0x0001_0000] {
        let mut t = good.clone();
        t[4..8].copy_from_slice(&platform.to_le_bytes());
        assert_eq!(attest(&t), "UnsupportedTpmVersion");
    }
    let mut t = good.clone();
    t[0] ^= 1;
    assert_eq!(attest(&t), "PcpClaimMalformed");
    let mut t = good.clone();
    t.push(0);
    assert_eq!(attest(&t), "PcpClaimMalformed");
    let mut t = good.clone();
    t[12] = 0x10; // cbPcrValues
    assert_eq!(attest(&t), "PcpClaimMalformed");
    // A quote over another nonce, a flipped signature, a changed PCR value, a foreign log.
    let other = m.claim(b"another nonce", &pcrs, &m.log, 1);
    assert_eq!(attest(&other), "QuoteNonceMismatch");
    let mut t = good.clone();
    let sig_end = t.len() - m.log.len();
    t[sig_end - 1] ^= 1;
    assert_eq!(attest(&t), "QuoteSignatureInvalid");
    let mut t = good.clone();
    t[32 + 3 * 32] ^= 1; // PCR 3
    assert_eq!(attest(&t), "PcrDigestMismatch");
    let foreign_log = win::windows_log(&Boot {
        safe_mode: Some(true),
        ..Boot::default()
    });
    assert_eq!(
        attest(&m.claim(&win::unb64(&ch), &pcrs, &foreign_log, 1)),
        "EventLogPcrMismatch"
    );
    // No current claim; a request signed by another key than attest_key.
    let data = m
        .v1_data(&ch, &sc, &good, "")
        .replace(r#""current_claim""#, r#""other_claim""#);
    let jws = win::jws(
        &m.key,
        "attReq",
        &format!(r#"{{"att_type":"basic","att_data":{data}}}"#),
    );
    assert_eq!(s.attest(&jws).expect_err("no claim"), "InvalidRequest");
    let data = m.v1_data(&ch, &sc, &good, "");
    let jws = win::jws(
        &win::rsa(),
        "attReq",
        &format!(r#"{{"att_type":"basic","att_data":{data}}}"#),
    );
    assert_eq!(s.attest(&jws).expect_err("signer"), "RequestSignatureInvalid");
    // Every truncation of the claim fails cleanly.
    for n in 0..good.len() {
        let e = pcp::parse("current_claim", &good[..n]).expect_err("truncated");
        assert!(
            ["PcpClaimMalformed", "UnsupportedTpmVersion"].contains(&e.code),
            "at {n}: {}",
            e.code
        );
    }
}

#[test]
fn the_first_pcp_blob_form_is_sha1() {
    let m = Machine::new();
    let pcrs = vec![vec![0u8; 20]; 24];
    let (q, sig) = win::quote(&m.ak, b"n", &win::pcrs_after(&m.log), 0xFF_FFFF, 1);
    let mut b = Vec::new();
    for v in [
        u32::from_le_bytes(*b"PADS"),
        2,
        28,
        480,
        q.len() as u32,
        sig.len() as u32,
        0,
    ] {
        b.extend(v.to_le_bytes());
    }
    b.extend(pcrs.concat());
    b.extend(&q);
    b.extend(&sig);
    let c = pcp::parse("current_claim", &b).expect("PADS blob");
    assert_eq!(c.bank, HashAlg::Sha1);
    assert_eq!(c.pcrs.1.len(), 24);
    assert_eq!(c.quote, q);
    // The signature becomes a TPMT_SIGNATURE with the quote's pcrDigest hash (SHA-256 here).
    assert_eq!(&c.signature[..4], &[0x00, 0x14, 0x00, 0x0b]);
    assert_eq!(&c.signature[6..], &sig[..]);
    b[12..16].copy_from_slice(&(24u32 * 32).to_le_bytes());
    assert_eq!(
        pcp::parse("current_claim", &b).expect_err("sizes").code,
        "PcpClaimMalformed"
    );
}

/// A VBS request: `report_signed` is `data` verbatim, the report hashes `hashed`.
fn vbs_request(m: &Machine, typ: &str, data: &str, hashed: &str, v2_shape: bool) -> String {
    let report = win::vbs_report(&m.idk, &win::sha512(hashed), &Identity::default(), 1);
    let vsm = if v2_shape {
        format!(r#"{{"enclave":{{"report":"{}"}}}}"#, win::b64(&report))
    } else {
        format!(r#""{}""#, win::b64(&report))
    };
    win::jws(
        &m.key,
        typ,
        &format!(r#"{{"att_type":"vbs","att_data":{{"report_signed":{data},"vsm_report":{vsm}}}}}"#),
    )
}

#[test]
fn vbs_requests_of_both_versions_attest_the_enclave() {
    let s = Setup::new();
    let m = Machine::new();
    let pcrs = win::pcrs_after(&m.log);
    // v1: vsm_report is a string.
    let (ch, sc) = s.challenge();
    let current = m.claim(&win::unb64(&ch), &pcrs, &m.log, 1);
    let data = m.v1_data(&ch, &sc, &current, "");
    let (c, _) = s
        .attest(&vbs_request(&m, "attReq", &data, &data, false))
        .expect("v1 vbs");
    assert_eq!(json_of(&c, "vbsReportPresent"), json!(true));
    assert_eq!(json_of(&c, "enclaveSvn"), json!(3));
    assert_eq!(json_of(&c, "enclaveImageId"), json!("AQEAAAAAAAAAAAAAAAAAAA"));
    // v2: {"enclave": {"report": …}}; the hash is over report_signed's exact text.
    let (ch, sc) = s.challenge();
    let data = m.v2_data(&ch, &sc);
    let (c, _) = s
        .attest(&vbs_request(&m, "attReqV2", &data, &data, true))
        .expect("v2 vbs");
    assert_eq!(json_of(&c, "vsmReportPresent"), json!(true));
    assert_eq!(json_of(&c, "enclavePlatformSvn"), json!(9));
    let spaced = data.replacen(',', ", ", 1);
    assert_eq!(
        s.attest(&vbs_request(&m, "attReqV2", &spaced, &data, true))
            .expect_err("text"),
        "VbsReportDataMismatch"
    );
    // A vbs request without its report.
    let jws = win::jws(
        &m.key,
        "attReqV2",
        &format!(r#"{{"att_type":"vbs","att_data":{{"report_signed":{data}}}}}"#),
    );
    assert_eq!(s.attest(&jws).expect_err("no report"), "VbsReportMissing");
}
