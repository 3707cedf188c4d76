//! Checks no published vector exercises: a Turin report (version 5, Turin TCB layout, 8-byte
//! hwID), AMD CRLs, debuggable guests and AMD's RSA-PSS parameters. They run against a test AMD
//! hierarchy generated here (test roots, never shipped), built with AMD's exact certificate
//! shapes: RSASSA-PSS SHA-384 with the explicit trailer field, AMD's VCEK extensions.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use attestd_evidence::{AttestationType, ClaimSet, Evidence, Verifier, VerifyContext};
use attestd_snp::certs::GenerationRoots;
use attestd_snp::report::REPORT_LEN;
use attestd_snp::{
    AmdCrl, AmdRoots, AttestationReport, ErrorCode, Generation, NoVcekSource, SnpOptions, SnpVerifier, TcbLevels, Vek,
};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::{KeyPair as RsaKeyPair, KeySize};
use aws_lc_rs::signature::{ECDSA_P384_SHA384_FIXED_SIGNING, EcdsaKeyPair, KeyPair, RSA_PSS_SHA384};

// ---- a minimal DER writer --------------------------------------------------------------------

fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else if len < 0x100 {
        out.extend([0x81, len as u8]);
    } else {
        out.extend([0x82, (len >> 8) as u8, len as u8]);
    }
    out.extend_from_slice(content);
    out
}

fn seq(parts: &[Vec<u8>]) -> Vec<u8> {
    tlv(0x30, &parts.concat())
}

fn oid(dotted: &str) -> Vec<u8> {
    let arcs: Vec<u64> = dotted.split('.').map(|a| a.parse().unwrap()).collect();
    let mut content = vec![(arcs[0] * 40 + arcs[1]) as u8];
    for &arc in &arcs[2..] {
        let mut stack = vec![(arc & 0x7f) as u8];
        let mut rest = arc >> 7;
        while rest > 0 {
            stack.push(0x80 | (rest & 0x7f) as u8);
            rest >>= 7;
        }
        content.extend(stack.iter().rev());
    }
    tlv(0x06, &content)
}

fn uint(value: &[u8]) -> Vec<u8> {
    let mut v = value.to_vec();
    if v.first().is_some_and(|b| b & 0x80 != 0) {
        v.insert(0, 0);
    }
    tlv(0x02, &v)
}

fn utc(unix: i64) -> Vec<u8> {
    let t = time::OffsetDateTime::from_unix_timestamp(unix).unwrap();
    let s = format!(
        "{:02}{:02}{:02}{:02}{:02}{:02}Z",
        t.year() % 100,
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    );
    tlv(0x17, s.as_bytes())
}

fn name(cn: &str) -> Vec<u8> {
    seq(&[tlv(0x31, &seq(&[oid("2.5.4.3"), tlv(0x0c, cn.as_bytes())]))])
}

fn bit_string(bytes: &[u8]) -> Vec<u8> {
    let mut content = vec![0u8];
    content.extend_from_slice(bytes);
    tlv(0x03, &content)
}

fn extension(id: &str, critical: bool, value: &[u8]) -> Vec<u8> {
    let mut parts = vec![oid(id)];
    if critical {
        parts.push(vec![0x01, 0x01, 0xff]);
    }
    parts.push(tlv(0x04, value));
    seq(&parts)
}

/// AMD's RSASSA-PSS AlgorithmIdentifier: SHA-384, MGF1-SHA-384, salt `salt`, explicit trailer 1.
fn pss(salt: u8) -> Vec<u8> {
    let sha384 = seq(&[oid("2.16.840.1.101.3.4.2.2"), vec![0x05, 0x00]]);
    let mgf1 = seq(&[oid("1.2.840.113549.1.1.8"), sha384.clone()]);
    seq(&[
        oid("1.2.840.113549.1.1.10"),
        seq(&[
            tlv(0xa0, &sha384),
            tlv(0xa1, &mgf1),
            tlv(0xa2, &uint(&[salt])),
            tlv(0xa3, &uint(&[1])),
        ]),
    ])
}

// ---- a test AMD hierarchy --------------------------------------------------------------------

const DAY: i64 = 86_400;
/// 2025-01-01T00:00:00Z: the test certificates are valid for a year around it.
const T0: i64 = 1_735_689_600;

fn at(unix: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(unix as u64)
}

struct Ca {
    key: RsaKeyPair,
    name: String,
    serial: Vec<u8>,
}

impl Ca {
    fn generate(name: &str, serial: u8) -> Ca {
        Ca {
            key: RsaKeyPair::generate(KeySize::Rsa2048).unwrap(),
            name: name.to_owned(),
            serial: vec![serial],
        }
    }

    fn spki(&self) -> Vec<u8> {
        seq(&[
            seq(&[oid("1.2.840.113549.1.1.1"), vec![0x05, 0x00]]),
            bit_string(self.key.public_key().as_ref()),
        ])
    }

    fn sign(&self, tbs: &[u8]) -> Vec<u8> {
        let mut sig = vec![0u8; self.key.public_modulus_len()];
        self.key
            .sign(&RSA_PSS_SHA384, &SystemRandom::new(), tbs, &mut sig)
            .unwrap();
        sig
    }

    /// A certificate signed by this CA, with AMD's signature algorithm (`salt` 48 as AMD).
    fn issue(&self, serial: &[u8], subject: &str, spki: Vec<u8>, extensions: Vec<Vec<u8>>, salt: u8) -> Vec<u8> {
        let tbs = seq(&[
            tlv(0xa0, &uint(&[2])),
            uint(serial),
            pss(salt),
            name(&self.name),
            seq(&[utc(T0 - 365 * DAY), utc(T0 + 365 * DAY)]),
            name(subject),
            spki,
            tlv(0xa3, &seq(&extensions)),
        ]);
        let sig = self.sign(&tbs);
        seq(&[tbs, pss(salt), bit_string(&sig)])
    }

    fn ca_certificate(&self, issuer: &Ca) -> Vec<u8> {
        let basic_constraints = extension("2.5.29.19", true, &seq(&[vec![0x01, 0x01, 0xff]]));
        issuer.issue(&self.serial, &self.name, self.spki(), vec![basic_constraints], 48)
    }

    /// A CRL listing `revoked` serials, current from `this_update` to `next_update`.
    fn crl(&self, revoked: &[&[u8]], this_update: i64, next_update: i64) -> Vec<u8> {
        let mut parts = vec![
            uint(&[1]),
            pss(48),
            name(&self.name),
            utc(this_update),
            utc(next_update),
        ];
        if !revoked.is_empty() {
            parts.push(seq(&revoked
                .iter()
                .map(|s| seq(&[uint(s), utc(this_update)]))
                .collect::<Vec<_>>()));
        }
        let tbs = seq(&parts);
        let sig = self.sign(&tbs);
        seq(&[tbs, pss(48), bit_string(&sig)])
    }
}

fn pem(ders: &[&[u8]]) -> String {
    use base64::Engine;
    ders.iter()
        .map(|d| {
            format!(
                "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
                base64::engine::general_purpose::STANDARD.encode(d)
            )
        })
        .collect()
}

/// A Turin hierarchy: ARK-Turin → SEV-Turin → a VCEK for one chip and TCB.
struct Turin {
    ark: Ca,
    ask: Ca,
    ark_der: Vec<u8>,
    ask_der: Vec<u8>,
    vcek_key: EcdsaKeyPair,
    chip_id: [u8; 64],
    /// fmc, bootloader, tee, snp, microcode.
    tcb: [u8; 5],
}

impl Turin {
    fn new() -> Turin {
        let ark = Ca::generate("ARK-Turin", 1);
        let ask = Ca::generate("SEV-Turin", 2);
        let ark_der = ark.ca_certificate(&ark);
        let ask_der = ask.ca_certificate(&ark);
        let mut chip_id = [0u8; 64];
        chip_id[..8].copy_from_slice(&[0x1e, 0x55, 0x0a, 0x8e, 0xe5, 0xcf, 0x9f, 0x4d]);
        Turin {
            ark,
            ask,
            ark_der,
            ask_der,
            vcek_key: EcdsaKeyPair::generate(&ECDSA_P384_SHA384_FIXED_SIGNING).unwrap(),
            chip_id,
            tcb: [1, 2, 3, 4, 9],
        }
    }

    fn roots(&self) -> AmdRoots {
        let pem = pem(&[&self.ask_der, &self.ark_der]);
        AmdRoots::new(vec![GenerationRoots::from_pem(Generation::Turin, &pem).unwrap()]).unwrap()
    }

    fn vcek_with(&self, product: &str, hw_id: &[u8], salt: u8) -> Vec<u8> {
        let ia5 = |s: &str| tlv(0x16, s.as_bytes());
        let spl = |v: u8| uint(&[v]);
        let amd = |arc: &str| format!("1.3.6.1.4.1.3704.1.{arc}");
        let spki = seq(&[
            seq(&[oid("1.2.840.10045.2.1"), oid("1.3.132.0.34")]),
            bit_string(self.vcek_key.public_key().as_ref()),
        ]);
        let [fmc, bl, tee, snp, ucode] = self.tcb;
        let extensions = vec![
            extension(&amd("1"), false, &spl(1)),
            extension(&amd("2"), false, &ia5(product)),
            extension(&amd("3.9"), false, &spl(fmc)),
            extension(&amd("3.1"), false, &spl(bl)),
            extension(&amd("3.2"), false, &spl(tee)),
            extension(&amd("3.3"), false, &spl(snp)),
            extension(&amd("3.8"), false, &spl(ucode)),
            extension(&amd("4"), false, &tlv(0x04, hw_id)),
        ];
        self.ask.issue(&[0x42], "SEV-VCEK", spki, extensions, salt)
    }

    fn vcek(&self) -> Vec<u8> {
        self.vcek_with("Turin", &self.chip_id[..8], 48)
    }

    /// A version 5 report from a Turin chip, signed with the VCEK key.
    fn report(&self, policy: u64) -> Vec<u8> {
        let mut r = vec![0u8; REPORT_LEN];
        r[0..4].copy_from_slice(&5u32.to_le_bytes());
        r[4..8].copy_from_slice(&7u32.to_le_bytes());
        r[8..16].copy_from_slice(&policy.to_le_bytes());
        r[0x34..0x38].copy_from_slice(&1u32.to_le_bytes());
        let [fmc, bl, tee, snp, ucode] = self.tcb;
        let tcb = [fmc, bl, tee, snp, 0, 0, 0, ucode];
        for off in [0x38, 0x180, 0x1e0, 0x1f0] {
            r[off..off + 8].copy_from_slice(&tcb);
        }
        r[0x50..0x90].copy_from_slice(&[0xab; 64]);
        r[0x90..0xc0].copy_from_slice(&[0xcd; 48]);
        r[0x188..0x18b].copy_from_slice(&[0x1a, 0x02, 0x01]);
        r[0x1a0..0x1e0].copy_from_slice(&self.chip_id);
        r[0x1f8..0x200].copy_from_slice(&0x5u64.to_le_bytes());
        r[0x200..0x208].copy_from_slice(&0x7u64.to_le_bytes());
        self.sign(&mut r);
        r
    }

    fn sign(&self, r: &mut [u8]) {
        let sig = self.vcek_key.sign(&SystemRandom::new(), &r[..0x2a0]).unwrap();
        let (big_r, big_s) = sig.as_ref().split_at(48);
        for (i, b) in big_r.iter().rev().enumerate() {
            r[0x2a0 + i] = *b;
        }
        for (i, b) in big_s.iter().rev().enumerate() {
            r[0x2a0 + 72 + i] = *b;
        }
    }
}

fn document(report: &[u8], certs: &[&[u8]]) -> Vec<u8> {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    serde_json::json!({ "SnpReport": b64.encode(report), "VcekCertChain": b64.encode(pem(certs)) })
        .to_string()
        .into_bytes()
}

async fn attest(v: &SnpVerifier, bytes: Vec<u8>, now: i64) -> Result<attestd_evidence::Appraisal, String> {
    let e = Evidence {
        attestation_type: AttestationType::SevSnpVm,
        bytes,
        runtime_data: None,
        init_time_data: None,
    };
    let configuration = ClaimSet::new();
    let ctx = VerifyContext {
        now: at(now),
        configuration: &configuration,
    };
    v.verify(&e, &ctx).await.map_err(|e| e.code.to_string())
}

fn verifier(t: &Turin) -> SnpVerifier {
    SnpVerifier::new(Arc::new(t.roots()), Arc::new(NoVcekSource))
}

// ---- tests ---------------------------------------------------------------------------------

#[tokio::test]
async fn turin_v5_report_verifies_with_turin_tcb_layout() {
    let t = Turin::new();
    let report = t.report(0x30000);
    let parsed = AttestationReport::parse(&report).unwrap();
    let mv = parsed.mitigation_vectors.unwrap();
    assert_eq!((mv.launch, mv.current), (5, 7));
    let vek = Vek::parse(&t.vcek()).unwrap();
    assert_eq!(vek.generation(), Generation::Turin);
    assert_eq!(
        vek.tcb(),
        TcbLevels {
            fmc: Some(1),
            bootloader: 2,
            tee: 3,
            snp: 4,
            microcode: 9
        }
    );

    let v = verifier(&t);
    let a = attest(&v, document(&report, &[&t.vcek(), &t.ask_der, &t.ark_der]), T0)
        .await
        .unwrap();
    let c = &a.token_claims;
    assert_eq!(c["x-ms-sevsnpvm-bootloader-svn"], 2);
    assert_eq!(c["x-ms-sevsnpvm-tee-svn"], 3);
    assert_eq!(c["x-ms-sevsnpvm-snpfw-svn"], 4);
    assert_eq!(c["x-ms-sevsnpvm-microcode-svn"], 9);
    assert_eq!(c["x-ms-sevsnpvm-guestsvn"], 7);
    assert_eq!(c["x-ms-sevsnpvm-launchmeasurement"], "cd".repeat(48));
    assert_eq!(c["x-ms-sevsnpvm-is-debuggable"], false);
    assert_eq!(c["x-ms-sevsnpvm-smt-allowed"], true);

    // Decoded with the Milan layout, this TCB would not match: the FMC byte matters.
    let mut r = report.clone();
    r[0x180] = 0;
    t.sign(&mut r);
    assert_eq!(
        attest(&v, document(&r, &[&t.vcek()]), T0).await.unwrap_err(),
        "VcekTcbMismatch"
    );
    // Only the first 8 bytes of CHIP_ID are the Turin hwID.
    let mut r = report.clone();
    r[0x1a0 + 3] ^= 1;
    t.sign(&mut r);
    assert_eq!(
        attest(&v, document(&r, &[&t.vcek()]), T0).await.unwrap_err(),
        "ChipIdMismatch"
    );
    // A report whose CPUID says Milan, with a Turin VCEK.
    let mut r = report.clone();
    r[0x188..0x18b].copy_from_slice(&[0x19, 0x01, 0x01]);
    t.sign(&mut r);
    assert_eq!(
        attest(&v, document(&r, &[&t.vcek()]), T0).await.unwrap_err(),
        "WrongGeneration"
    );
    // The real AMD roots do not know the test hierarchy.
    let real = SnpVerifier::with_bundled_roots().unwrap();
    assert_eq!(
        attest(&real, document(&report, &[&t.vcek()]), T0).await.unwrap_err(),
        "VekIssuerMismatch"
    );
}

#[tokio::test]
async fn a_masked_chip_id_is_not_compared() {
    let t = Turin::new();
    let v = verifier(&t);
    let mut r = t.report(0x30000);
    r[0x48] = 0b10; // MASK_CHIP_KEY
    r[0x1a0..0x1e0].fill(0);
    t.sign(&mut r);
    attest(&v, document(&r, &[&t.vcek()]), T0).await.unwrap();
    // Without the mask bit a zero CHIP_ID is just another chip's id.
    r[0x48] = 0;
    t.sign(&mut r);
    assert_eq!(
        attest(&v, document(&r, &[&t.vcek()]), T0).await.unwrap_err(),
        "ChipIdMismatch"
    );
}

#[tokio::test]
async fn vcek_shape_is_checked() {
    let t = Turin::new();
    let v = verifier(&t);
    let report = t.report(0x30000);
    for (vcek, expected) in [
        (t.vcek_with("Turin", &t.chip_id, 48), "VekExtensionMalformed"),
        (t.vcek_with("Venice", &t.chip_id[..8], 48), "UnknownProductName"),
        (t.vcek_with("Milan-B0", &t.chip_id, 48), "WrongGeneration"),
        (
            t.vcek_with("Turin", &t.chip_id[..8], 32),
            "AmdSignatureAlgorithmUnsupported",
        ),
    ] {
        assert_eq!(attest(&v, document(&report, &[&vcek]), T0).await.unwrap_err(), expected);
    }
}

#[tokio::test]
async fn debuggable_guests_are_reported_and_optionally_refused() {
    let t = Turin::new();
    let report = t.report(0x30000 | (1 << 19) | (1 << 18));
    let doc = document(&report, &[&t.vcek()]);
    let a = attest(&verifier(&t), doc.clone(), T0).await.unwrap();
    assert_eq!(a.token_claims["x-ms-sevsnpvm-is-debuggable"], true);
    assert_eq!(a.token_claims["x-ms-sevsnpvm-migration-allowed"], true);
    let strict = verifier(&t).with_options(SnpOptions { reject_debug: true });
    assert_eq!(attest(&strict, doc, T0).await.unwrap_err(), "DebugNotAllowed");
}

#[tokio::test]
async fn crls_revoke_signing_keys() {
    let t = Turin::new();
    let roots = t.roots();
    let doc = document(&t.report(0x30000), &[&t.vcek()]);

    // A current CRL that lists another serial changes nothing.
    let v = verifier(&t);
    let crl = AmdCrl::parse(&t.ark.crl(&[&[0x77]], T0 - DAY, T0 + 30 * DAY), &roots).unwrap();
    assert_eq!((crl.generation(), crl.revoked_count()), (Generation::Turin, 1));
    v.set_crl(crl);
    attest(&v, doc.clone(), T0).await.unwrap();
    // After its nextUpdate the CRL no longer vouches for anything.
    assert_eq!(attest(&v, doc.clone(), T0 + 31 * DAY).await.unwrap_err(), "CrlExpired");

    // A CRL listing the ASK revokes every VCEK under it, cached or not.
    v.set_crl(AmdCrl::parse(&t.ark.crl(&[&t.ask.serial], T0 - DAY, T0 + 30 * DAY), &roots).unwrap());
    assert_eq!(attest(&v, doc.clone(), T0).await.unwrap_err(), "AmdCertificateRevoked");
    let fresh = verifier(&t);
    fresh.set_crl(AmdCrl::parse(&t.ark.crl(&[&t.ask.serial], T0 - DAY, T0 + 30 * DAY), &roots).unwrap());
    assert_eq!(attest(&fresh, doc, T0).await.unwrap_err(), "AmdCertificateRevoked");

    // CRLs not signed by a configured ARK are refused when loaded.
    let mut bad = t.ark.crl(&[], T0 - DAY, T0 + DAY);
    let last = bad.len() - 1;
    bad[last] ^= 1;
    assert_eq!(
        AmdCrl::parse(&bad, &roots).unwrap_err().code,
        ErrorCode::CrlSignatureInvalid
    );
    let stranger = Ca::generate("ARK-Turin", 9).crl(&[], T0 - DAY, T0 + DAY);
    assert_eq!(
        AmdCrl::parse(&stranger, &roots).unwrap_err().code,
        ErrorCode::CrlSignatureInvalid
    );
    let unknown = Ca::generate("ARK-Venice", 9).crl(&[], T0 - DAY, T0 + DAY);
    assert_eq!(
        AmdCrl::parse(&unknown, &roots).unwrap_err().code,
        ErrorCode::CrlSignatureInvalid
    );
    assert_eq!(
        AmdCrl::parse(b"\x30\x00", &roots).unwrap_err().code,
        ErrorCode::CrlMalformed
    );
}

#[test]
fn root_bundles_are_checked() {
    let t = Turin::new();
    // An ASK not signed by the ARK of the bundle.
    let other = Ca::generate("ARK-Turin", 5);
    let foreign_ask = t.ask.ca_certificate(&other);
    let err = GenerationRoots::from_pem(Generation::Turin, &pem(&[&foreign_ask, &t.ark_der])).unwrap_err();
    assert_eq!(err.code, ErrorCode::AmdSignatureInvalid);
    // A bundle without its ARK.
    let err = GenerationRoots::from_pem(Generation::Turin, &pem(&[&t.ask_der])).unwrap_err();
    assert_eq!(err.code, ErrorCode::AmdCertificateMalformed);
    // An ASK without basicConstraints cA is not a CA.
    let leaf_ask = t.ark.issue(&t.ask.serial, "SEV-Turin", t.ask.spki(), vec![], 48);
    let err = GenerationRoots::from_pem(Generation::Turin, &pem(&[&leaf_ask, &t.ark_der])).unwrap_err();
    assert_eq!(err.code, ErrorCode::AmdCertificateMalformed);
    assert!(err.message.contains("basicConstraints"), "{err}");
    // The well-formed bundle loads, and its ASVK is optional.
    let roots = GenerationRoots::from_pem(Generation::Turin, &pem(&[&t.ask_der, &t.ark_der])).unwrap();
    assert!(roots.asvk().is_none());
}
