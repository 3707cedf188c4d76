//! The SEV-SNP cases of the shared vector catalog (CATALOG.md section 5), checked end to end.
#![allow(clippy::unwrap_used)]

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::SystemTime;

use attestd_evidence::{
    Appraisal, AttestationType, BoundData, ClaimSet, DataType, ErrorKind, Evidence, EvidenceError, Verifier,
    VerifyContext,
};
use attestd_snp::report::{ReportVersion, SigningKey};
use attestd_snp::verifier::VcekFuture;
use attestd_snp::{
    AmdRoots, AttestationReport, ErrorCode, Generation, SnpOptions, SnpVerifier, TcbLevels, VcekRequest, VcekSource,
    Vek, VekKind,
};

fn at(rfc3339: &str) -> SystemTime {
    time::OffsetDateTime::parse(rfc3339, &time::format_description::well_known::Rfc3339)
        .unwrap()
        .into()
}

fn roots() -> &'static AmdRoots {
    static ROOTS: OnceLock<AmdRoots> = OnceLock::new();
    ROOTS.get_or_init(|| AmdRoots::bundled().unwrap())
}

fn pem_certs(path: &str) -> Vec<Vec<u8>> {
    x509_parser::pem::Pem::iter_from_buffer(&read(path))
        .map(|p| p.unwrap().contents)
        .collect()
}

fn snp(path: &str) -> PathBuf {
    attestd_testkit::vectors_dir().join("sev-snp").join(path)
}

fn read(path: &str) -> Vec<u8> {
    std::fs::read(snp(path)).unwrap()
}

fn virtee_report() -> Vec<u8> {
    let text = std::fs::read_to_string(snp("virtee-sev/report_milan.hex")).unwrap();
    hex::decode(text.trim()).unwrap()
}

fn tcb(fmc: Option<u8>, bootloader: u8, tee: u8, snp: u8, microcode: u8) -> TcbLevels {
    TcbLevels {
        fmc,
        bootloader,
        tee,
        snp,
        microcode,
    }
}

#[test]
fn parses_snp_tr_1_v2_report() {
    let r = AttestationReport::parse(&read("trustee/test-report.bin")).unwrap();
    assert_eq!(r.version, ReportVersion::V2);
    assert_eq!(r.cpuid, None);
    assert_eq!(
        hex::encode(r.measurement),
        "a1f3930413247bb38cfc171579ea3c12d5fe4901f0c792f63fd75d98f1ef827c23500644e0e692e6be917f9050d3d38c"
    );
    assert_eq!(
        hex::encode(r.report_data),
        format!(
            "ec6c52d7533cc2c4f45be7849cf112ab82b2009fe7bd43e71ed08c14400ad7e2{}",
            "0".repeat(64)
        )
    );
    assert_eq!(r.policy.0, 0x3001f);
    assert_eq!(r.guest_svn, 4);
    assert_eq!(r.family_id[0], 1);
    assert_eq!(r.image_id[0], 2);
    assert_eq!(
        hex::encode(r.id_key_digest),
        "0356215882a825279a85b300b0b742931d113bf7e32dde2e50ffde7ec743ca491ecdd7f336dc28a6e0b2bb57af7a44a3"
    );
    assert_eq!(r.reported_tcb.levels(Generation::Milan), tcb(None, 3, 0, 8, 115));
    assert_eq!(r.current_tcb.levels(Generation::Milan).microcode, 206);
    assert_eq!(
        (
            r.current_version.major,
            r.current_version.minor,
            r.current_version.build
        ),
        (1, 52, 4)
    );
    assert_eq!(r.key_info.signing_key, SigningKey::Vcek);
    assert_eq!(r.cpuid_generation().unwrap(), None);
}

#[test]
fn parses_snp_tr_2_v3_vlek_report() {
    let r = AttestationReport::parse(&read("trustee/test-vlek-report.bin")).unwrap();
    assert_eq!(r.version, ReportVersion::V3);
    assert_eq!(r.vmpl, 1);
    assert_eq!(r.key_info.signing_key, SigningKey::Vlek);
    assert_eq!(r.chip_id, [0u8; 64]);
    assert_eq!(
        hex::encode(r.measurement),
        "8922ebbdd00ec2c541f36a6e7a82a8773a7accb451ed67bc94e740dbe92c93c4e8c9af857f5ceeb5a493df2a570d7bf0"
    );
    let rd = hex::encode(r.report_data);
    assert!(rd.starts_with("819770b7") && rd.ends_with("a7bc27ca"), "{rd}");
    assert_eq!(r.reported_tcb.levels(Generation::Milan), tcb(None, 4, 0, 24, 217));
    assert_eq!(r.cpuid_generation().unwrap(), Some(Generation::Milan));
}

#[test]
fn parses_snp_tr_3_v3_genoa_report() {
    let r = AttestationReport::parse(&read("trustee/e2e-report.derived.bin")).unwrap();
    assert_eq!(r.version, ReportVersion::V3);
    let c = r.cpuid.unwrap();
    assert_eq!((c.family, c.model), (0x19, 0xa0));
    assert_eq!(r.cpuid_generation().unwrap(), Some(Generation::Genoa));
    assert_eq!(
        hex::encode(r.measurement),
        "6a6519d757e68c2e939c9dbbbc1828498e8de35d2766dd05f1a2cca5059d0cf4ae62a36d75c837974dd50b315506e73e"
    );
    let rd = hex::encode(r.report_data);
    assert!(rd.starts_with("7e7320889600c7ac") && rd.ends_with("150cf9b0"), "{rd}");
    assert_eq!(r.reported_tcb.levels(Generation::Genoa), tcb(None, 10, 0, 23, 25));
    assert_eq!(
        (
            r.current_version.major,
            r.current_version.minor,
            r.current_version.build
        ),
        (1, 55, 40)
    );
}

#[test]
fn parses_snp_vir_1_v2_report() {
    let r = AttestationReport::parse(&virtee_report()).unwrap();
    assert_eq!(r.version, ReportVersion::V2);
    assert_eq!(
        hex::encode(r.measurement),
        "7a1e5c266c0108dbc9bb94fa926951320940915d0aafb42464bd88b579ea158d3e1a0dc39b2c60bd95b9c480cd81841f"
    );
    let rd = hex::encode(r.report_data);
    assert!(rd.starts_with("d447b55d") && rd.ends_with("6a93ebfd"), "{rd}");
    assert_eq!(r.reported_tcb.levels(Generation::Milan), tcb(None, 3, 0, 8, 115));
}

// ---- certificates -------------------------------------------------------------------------

#[test]
fn bundled_roots_match_the_catalog() {
    let r = roots();
    for (g, from, to) in [
        (Generation::Milan, "2020-10-22", "2045-10-22"),
        (Generation::Genoa, "2022-01-26", "2047-01-26"),
        (Generation::Turin, "2023-05-15", "2048-05-15"),
    ] {
        let gr = r.generation(g).unwrap();
        assert_eq!(gr.ark().name(), format!("ARK-{g}"));
        assert_eq!(gr.ask().name(), format!("SEV-{g}"));
        assert_eq!(gr.asvk().as_ref().unwrap().name(), format!("SEV-VLEK-{g}"));
        let day = |t: i64| time::OffsetDateTime::from_unix_timestamp(t).unwrap().date().to_string();
        assert_eq!(
            (day(gr.ark().not_before()).as_str(), day(gr.ark().not_after()).as_str()),
            (from, to),
            "{g}"
        );
    }
    // The chains shipped by virtee/sev are the same AMD certificates.
    for (path, g) in [
        ("virtee-sev/cert_chain_milan", Generation::Milan),
        ("virtee-sev/cert_chain_turin", Generation::Turin),
    ] {
        for der in pem_certs(path) {
            assert_eq!(r.generation_of_certificate(&der), Some(g), "{path}");
        }
    }
}

#[test]
fn snp_tr_1_vcek_chains_to_milan() {
    let vek = Vek::parse(&read("trustee/test-vcek.der")).unwrap();
    assert_eq!(vek.kind(), VekKind::Vcek);
    assert_eq!(vek.generation(), Generation::Milan);
    assert_eq!(vek.product_name(), "Milan-B0");
    assert_eq!(vek.tcb(), tcb(None, 3, 0, 8, 115));
    let report = AttestationReport::parse(&read("trustee/test-report.bin")).unwrap();
    assert_eq!(vek.hw_id(), Some(&report.chip_id[..]));
    roots().verify_vek(&vek, at("2025-01-01T00:00:00Z"), &[]).unwrap();
    vek.check_binding(&report).unwrap();
    vek.verify_report_signature(&report).unwrap();
    // Outside 2023-01-24..2030-01-24 the VCEK is not valid.
    for t in ["2023-01-01T00:00:00Z", "2030-02-01T00:00:00Z"] {
        assert_eq!(
            roots().verify_vek(&vek, at(t), &[]).unwrap_err().code,
            ErrorCode::VekExpired,
            "{t}"
        );
    }
}

#[test]
fn snp_tr_1_tampered_vcek_fails_the_chain() {
    let mut der = read("trustee/test-vcek.der");
    der[42] = der[42].wrapping_add(1);
    // Byte 42 sits in the inner signature AlgorithmIdentifier, which then differs from the outer.
    let err = Vek::parse(&der).unwrap_err();
    assert_eq!(err.code, ErrorCode::VekMalformed, "{err}");
    // A changed hwID byte keeps the certificate well-formed but breaks the ASK signature.
    let mut der = read("trustee/test-vcek.der");
    let report = AttestationReport::parse(&read("trustee/test-report.bin")).unwrap();
    let pos = der.windows(64).position(|w| w == report.chip_id).unwrap();
    der[pos + 10] ^= 1;
    let vek = Vek::parse(&der).unwrap();
    let err = roots().verify_vek(&vek, at("2025-01-01T00:00:00Z"), &[]).unwrap_err();
    assert_eq!(err.code, ErrorCode::VekSignatureInvalid, "{err}");
}

#[test]
fn snp_tr_2_vlek_chains_to_milan_asvk_until_it_expires() {
    let vek = Vek::parse(&read("trustee/test-vlek.der")).unwrap();
    assert_eq!(vek.kind(), VekKind::Vlek);
    assert_eq!(vek.generation(), Generation::Milan);
    assert_eq!(vek.hw_id(), None);
    assert!(vek.csp_id().unwrap().ends_with("cc-us-east-2.amazonaws.com"));
    assert_eq!(vek.tcb(), tcb(None, 4, 0, 24, 217));
    roots().verify_vek(&vek, at("2025-06-01T00:00:00Z"), &[]).unwrap();
    assert_eq!(
        roots()
            .verify_vek(&vek, at("2025-12-11T00:00:00Z"), &[])
            .unwrap_err()
            .code,
        ErrorCode::VekExpired
    );
    let report = AttestationReport::parse(&read("trustee/test-vlek-report.bin")).unwrap();
    vek.check_binding(&report).unwrap();
    vek.verify_report_signature(&report).unwrap();
}

#[test]
fn snp_tr_3_genoa_vcek() {
    let vek = Vek::parse(&read("trustee/e2e-vcek.derived.der")).unwrap();
    assert_eq!(vek.generation(), Generation::Genoa);
    assert_eq!(vek.tcb(), tcb(None, 10, 0, 23, 25));
    roots().verify_vek(&vek, at("2025-06-01T00:00:00Z"), &[]).unwrap();
    let report = AttestationReport::parse(&read("trustee/e2e-report.derived.bin")).unwrap();
    vek.check_binding(&report).unwrap();
    vek.verify_report_signature(&report).unwrap();
}

#[test]
fn snp_tr_n_synthetic_vceks_parse_but_are_not_amd_signed() {
    for path in [
        "trustee/test-vcek-invalid-legacy.der",
        "trustee/test-vcek-invalid-new.der",
    ] {
        let vek = Vek::parse(&read(path)).unwrap();
        let expected: Vec<u8> = (0u8..64).collect();
        assert_eq!(vek.hw_id(), Some(&expected[..]), "{path}");
        assert_eq!(vek.generation(), Generation::Milan);
        assert_eq!(
            roots()
                .verify_vek(&vek, at("2025-01-01T00:00:00Z"), &[])
                .unwrap_err()
                .code,
            ErrorCode::VekSignatureInvalid,
            "{path}"
        );
    }
}

#[test]
fn snp_vir_2_turin_vcek_chains_to_turin() {
    let vek = Vek::parse(&read("virtee-sev/vcek_turin.der")).unwrap();
    assert_eq!(vek.generation(), Generation::Turin);
    assert_eq!(vek.product_name(), "Turin");
    assert_eq!(vek.tcb(), tcb(Some(0), 0, 0, 0, 9));
    assert_eq!(hex::encode(vek.hw_id().unwrap()), "1e550a8ee5cf9f4d");
    roots().verify_vek(&vek, at("2025-06-01T00:00:00Z"), &[]).unwrap();
}

#[test]
fn snp_vir_1_vcek_chains_and_tampering_fails() {
    let vek = Vek::parse(&read("virtee-sev/vcek_milan.der")).unwrap();
    roots().verify_vek(&vek, at("2025-06-01T00:00:00Z"), &[]).unwrap();
    let report = AttestationReport::parse(&virtee_report()).unwrap();
    vek.check_binding(&report).unwrap();
    vek.verify_report_signature(&report).unwrap();
    let mut der = read("virtee-sev/vcek_milan.der");
    der[40] ^= 0xff;
    assert!(
        Vek::parse(&der)
            .and_then(|v| roots().verify_vek(&v, at("2025-06-01T00:00:00Z"), &[]))
            .is_err()
    );
}

// ---- the verifier, on MAA-shaped evidence --------------------------------------------------

fn pem(ders: &[Vec<u8>]) -> String {
    use base64::Engine;
    let mut out = String::new();
    for der in ders {
        out.push_str("-----BEGIN CERTIFICATE-----\n");
        let b64 = base64::engine::general_purpose::STANDARD.encode(der);
        for line in b64.as_bytes().chunks(64) {
            out.push_str(std::str::from_utf8(line).unwrap());
            out.push('\n');
        }
        out.push_str("-----END CERTIFICATE-----\n");
    }
    out
}

/// MAA's `report` document: base64url report and base64url PEM chain, with MAA's whitespace.
fn maa_document(report: &[u8], certs: &[Vec<u8>]) -> Vec<u8> {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    format!(
        "\n        {{\n            \"SnpReport\" : \"{}\",\n            \"VcekCertChain\" : \"{}\"\n        }}\n        ",
        b64.encode(report),
        b64.encode(pem(certs))
    )
    .into_bytes()
}

fn milan_chain() -> Vec<Vec<u8>> {
    pem_certs("virtee-sev/cert_chain_milan")
}

fn with_chain(vek: Vec<u8>, chain: Vec<Vec<u8>>) -> Vec<Vec<u8>> {
    std::iter::once(vek).chain(chain).collect()
}

fn verifier() -> &'static SnpVerifier {
    static V: OnceLock<SnpVerifier> = OnceLock::new();
    V.get_or_init(|| SnpVerifier::with_bundled_roots().unwrap())
}

fn evidence(bytes: Vec<u8>, runtime: Option<BoundData>, init_time: Option<BoundData>) -> Evidence {
    Evidence {
        attestation_type: AttestationType::SevSnpVm,
        bytes,
        runtime_data: runtime,
        init_time_data: init_time,
    }
}

async fn attest_with(v: &SnpVerifier, e: &Evidence, when: &str) -> Result<Appraisal, EvidenceError> {
    let configuration = ClaimSet::new();
    let ctx = VerifyContext {
        now: at(when),
        configuration: &configuration,
    };
    v.verify(e, &ctx).await
}

async fn attest(bytes: Vec<u8>, when: &str) -> Result<Appraisal, EvidenceError> {
    attest_with(verifier(), &evidence(bytes, None, None), when).await
}

fn code(r: Result<Appraisal, EvidenceError>) -> String {
    r.map(|_| "verified".to_owned()).unwrap_or_else(|e| e.code.to_string())
}

fn claim<'a>(a: &'a Appraisal, name: &str) -> &'a serde_json::Value {
    a.token_claims.get(name).unwrap_or_else(|| panic!("no {name}"))
}

fn tr1() -> (Vec<u8>, Vec<Vec<u8>>) {
    (
        read("trustee/test-report.bin"),
        with_chain(read("trustee/test-vcek.der"), milan_chain()),
    )
}

#[tokio::test]
async fn snp_tr_1_verifies_with_maa_claims() {
    let (report, certs) = tr1();
    let a = attest(maa_document(&report, &certs), "2025-01-01T00:00:00Z")
        .await
        .unwrap();
    let expected = serde_json::json!({
        "x-ms-sevsnpvm-authorkeydigest": "0".repeat(96),
        "x-ms-sevsnpvm-bootloader-svn": 3,
        "x-ms-sevsnpvm-familyId": "01000000000000000000000000000000",
        "x-ms-sevsnpvm-guestsvn": 4,
        "x-ms-sevsnpvm-hostdata": "0".repeat(64),
        "x-ms-sevsnpvm-idkeydigest": "0356215882a825279a85b300b0b742931d113bf7e32dde2e50ffde7ec743ca491ecdd7f336dc28a6e0b2bb57af7a44a3",
        "x-ms-sevsnpvm-imageId": "02000000000000000000000000000000",
        "x-ms-sevsnpvm-is-debuggable": false,
        "x-ms-sevsnpvm-launchmeasurement": "a1f3930413247bb38cfc171579ea3c12d5fe4901f0c792f63fd75d98f1ef827c23500644e0e692e6be917f9050d3d38c",
        "x-ms-sevsnpvm-microcode-svn": 115,
        "x-ms-sevsnpvm-migration-allowed": false,
        "x-ms-sevsnpvm-reportdata": format!("ec6c52d7533cc2c4f45be7849cf112ab82b2009fe7bd43e71ed08c14400ad7e2{}", "0".repeat(64)),
        "x-ms-sevsnpvm-reportid": "385eba81216de4776548fcb86f8ead03c1ebc92b6207f3210d9ccebb89c99005",
        "x-ms-sevsnpvm-smt-allowed": true,
        "x-ms-sevsnpvm-snpfw-svn": 8,
        "x-ms-sevsnpvm-tee-svn": 0,
        "x-ms-sevsnpvm-vmpl": 0,
    });
    assert_eq!(serde_json::to_value(&a.token_claims).unwrap(), expected);
    // The policy sees the same claims (typed) plus the attestation type.
    assert_eq!(
        a.incoming.value("x-ms-sevsnpvm-microcode-svn").and_then(|v| v.as_i64()),
        Some(115)
    );
    assert_eq!(
        a.incoming
            .value("x-ms-sevsnpvm-is-debuggable")
            .and_then(|v| v.as_bool()),
        Some(false)
    );
    assert_eq!(
        a.incoming.value("x-ms-attestation-type").and_then(|v| v.as_str()),
        Some("sevsnpvm")
    );
    // The VCEK alone (without ASK and ARK) is enough.
    let a = attest(maa_document(&report, &certs[..1]), "2025-01-01T00:00:00Z").await;
    assert!(a.is_ok());
}

#[tokio::test]
async fn snp_tr_1_negatives_have_distinct_codes() {
    let (report, certs) = tr1();
    let when = "2025-01-01T00:00:00Z";
    // Body tampered (asserted by trustee: byte 42 += 1).
    let mut r = report.clone();
    r[42] = r[42].wrapping_add(1);
    assert_eq!(
        code(attest(maa_document(&r, &certs), when).await),
        "ReportSignatureInvalid"
    );
    // REPORTED_TCB tampered (byte 384 += 1): the VCEK was issued for another TCB.
    let mut r = report.clone();
    r[384] = r[384].wrapping_add(1);
    assert_eq!(code(attest(maa_document(&r, &certs), when).await), "VcekTcbMismatch");
    // Signature tampered.
    let mut r = report.clone();
    r[0x2A0 + 5] ^= 0x10;
    assert_eq!(
        code(attest(maa_document(&r, &certs), when).await),
        "ReportSignatureInvalid"
    );
    let mut r = report.clone();
    r[0x2A0 + 60] = 1;
    assert_eq!(
        code(attest(maa_document(&r, &certs), when).await),
        "ReportSignatureMalformed"
    );
    // Another chip's VCEK with the same TCB (SNP-VIR-1's).
    let other = with_chain(read("virtee-sev/vcek_milan.der"), milan_chain());
    assert_eq!(
        code(attest(maa_document(&report, &other), when).await),
        "ChipIdMismatch"
    );
    // The VCEK's chain is broken.
    let mut der = read("trustee/test-vcek.der");
    let pos = der.windows(8).position(|w| w == &report[0x1A0..0x1A8]).unwrap();
    der[pos] ^= 1;
    assert_eq!(
        code(attest(maa_document(&report, &with_chain(der, milan_chain())), when).await),
        "VekSignatureInvalid"
    );
    // A certificate that is neither AMD CA nor the VCEK.
    let extra = with_chain(read("trustee/test-vcek.der"), vec![read("virtee-sev/vcek_milan.der")]);
    assert_eq!(
        code(attest(maa_document(&report, &extra), when).await),
        "UnknownAmdCertificate"
    );
    // The VCEK has expired.
    assert_eq!(
        code(attest(maa_document(&report, &certs), "2030-02-01T00:00:00Z").await),
        "VekExpired"
    );
    // Unsupported version.
    let mut r = report.clone();
    r[0] = 1;
    assert_eq!(
        code(attest(maa_document(&r, &certs), when).await),
        "UnsupportedReportVersion"
    );
    // Truncated.
    assert_eq!(
        code(attest(maa_document(&report[..1000], &certs), when).await),
        "ReportTooShort"
    );
}

#[tokio::test]
async fn snp_tr_2_vlek_report_verifies_until_the_vlek_expires() {
    let report = read("trustee/test-vlek-report.bin");
    let certs = vec![read("trustee/test-vlek.der")];
    let a = attest(maa_document(&report, &certs), "2025-06-01T00:00:00Z")
        .await
        .unwrap();
    assert_eq!(claim(&a, "x-ms-sevsnpvm-vmpl"), 1);
    assert_eq!(
        claim(&a, "x-ms-sevsnpvm-launchmeasurement"),
        "8922ebbdd00ec2c541f36a6e7a82a8773a7accb451ed67bc94e740dbe92c93c4e8c9af857f5ceeb5a493df2a570d7bf0"
    );
    assert_eq!(claim(&a, "x-ms-sevsnpvm-bootloader-svn"), 4);
    assert_eq!(claim(&a, "x-ms-sevsnpvm-snpfw-svn"), 24);
    assert_eq!(claim(&a, "x-ms-sevsnpvm-microcode-svn"), 217);
    assert_eq!(
        code(attest(maa_document(&report, &certs), "2025-12-11T00:00:00Z").await),
        "VekExpired"
    );
    for (byte, expected) in [(42, "ReportSignatureInvalid"), (384, "VcekTcbMismatch")] {
        let mut r = report.clone();
        r[byte] = r[byte].wrapping_add(1);
        assert_eq!(
            code(attest(maa_document(&r, &certs), "2025-06-01T00:00:00Z").await),
            expected,
            "byte {byte}"
        );
    }
    // A VCEK cannot stand in for the VLEK the report names.
    let vcek = vec![read("trustee/test-vcek.der")];
    assert_eq!(
        code(attest(maa_document(&report, &vcek), "2025-06-01T00:00:00Z").await),
        "SigningKeyMismatch"
    );
    // ... nor the VLEK for a VCEK-signed report.
    assert_eq!(
        code(
            attest(
                maa_document(&read("trustee/test-report.bin"), &certs),
                "2025-06-01T00:00:00Z"
            )
            .await
        ),
        "SigningKeyMismatch"
    );
}

#[tokio::test]
async fn snp_tr_3_genoa_report_verifies() {
    let report = read("trustee/e2e-report.derived.bin");
    let vcek = read("trustee/e2e-vcek.derived.der");
    let a = attest(
        maa_document(&report, std::slice::from_ref(&vcek)),
        "2025-06-01T00:00:00Z",
    )
    .await
    .unwrap();
    assert_eq!(
        claim(&a, "x-ms-sevsnpvm-launchmeasurement"),
        "6a6519d757e68c2e939c9dbbbc1828498e8de35d2766dd05f1a2cca5059d0cf4ae62a36d75c837974dd50b315506e73e"
    );
    assert_eq!(claim(&a, "x-ms-sevsnpvm-bootloader-svn"), 10);
    assert_eq!(claim(&a, "x-ms-sevsnpvm-snpfw-svn"), 23);
    assert_eq!(claim(&a, "x-ms-sevsnpvm-microcode-svn"), 25);
    // A Genoa VCEK sent with the Milan ASK and ARK.
    assert_eq!(
        code(
            attest(
                maa_document(&report, &with_chain(vcek, milan_chain())),
                "2025-06-01T00:00:00Z"
            )
            .await
        ),
        "WrongGeneration"
    );
    // A report whose CPUID says Genoa, checked with a Milan VCEK.
    let milan = vec![read("trustee/test-vcek.der")];
    assert_eq!(
        code(attest(maa_document(&report, &milan), "2025-06-01T00:00:00Z").await),
        "WrongGeneration"
    );
}

#[tokio::test]
async fn snp_vir_1_verifies_and_bit_flip_fails() {
    let report = virtee_report();
    let certs = with_chain(read("virtee-sev/vcek_milan.der"), milan_chain());
    let a = attest(maa_document(&report, &certs), "2025-06-01T00:00:00Z")
        .await
        .unwrap();
    assert_eq!(
        claim(&a, "x-ms-sevsnpvm-launchmeasurement"),
        "7a1e5c266c0108dbc9bb94fa926951320940915d0aafb42464bd88b579ea158d3e1a0dc39b2c60bd95b9c480cd81841f"
    );
    let mut r = report.clone();
    r[21] ^= 0x80;
    assert_eq!(
        code(attest(maa_document(&r, &certs), "2025-06-01T00:00:00Z").await),
        "ReportSignatureInvalid"
    );
}

#[tokio::test]
async fn snp_ravl_1_verifies() {
    use base64::Engine;
    let att: serde_json::Value = serde_json::from_slice(&read("ravl/sev_snp.att")).unwrap();
    let b64 = base64::engine::general_purpose::STANDARD;
    let report = b64.decode(att["evidence"].as_str().unwrap()).unwrap();
    let chain = b64.decode(att["endorsements"].as_str().unwrap()).unwrap();
    let certs: Vec<Vec<u8>> = x509_parser::pem::Pem::iter_from_buffer(&chain)
        .map(|p| p.unwrap().contents)
        .collect();
    assert_eq!(certs.len(), 3);
    let a = attest(maa_document(&report, &certs), "2025-06-01T00:00:00Z")
        .await
        .unwrap();
    assert_eq!(
        claim(&a, "x-ms-sevsnpvm-hostdata"),
        "ab6ccfea6e8c9c6233b1a4631cfd6440ecf910694b34d7e92e0236738758831e"
    );
    assert_eq!(
        claim(&a, "x-ms-sevsnpvm-launchmeasurement"),
        "ede826880a4e1a41898a96810efb09f2070513abb355e89652564cd18f1d43a7a031d1ff54490dbd61687de101b66ed1"
    );
    let rd = claim(&a, "x-ms-sevsnpvm-reportdata").as_str().unwrap();
    assert!(rd.starts_with("0879ba8b") && rd[..64].ends_with("897bbda4"), "{rd}");
    for (name, value) in [
        ("x-ms-sevsnpvm-bootloader-svn", 2),
        ("x-ms-sevsnpvm-tee-svn", 0),
        ("x-ms-sevsnpvm-snpfw-svn", 6),
        ("x-ms-sevsnpvm-microcode-svn", 93),
    ] {
        assert_eq!(claim(&a, name), value, "{name}");
    }
}

#[tokio::test]
async fn a_report_without_its_vcek_needs_a_source() {
    let err = attest(read("trustee/test-report.bin"), "2025-01-01T00:00:00Z")
        .await
        .unwrap_err();
    assert_eq!(err.code, "VcekUnavailable");
    assert_eq!(err.kind, ErrorKind::CollateralUnavailable);

    // A source that knows the VCEK makes the raw report verify; its answer is still checked.
    struct Fixed(Vec<u8>);
    impl VcekSource for Fixed {
        fn vek<'a>(&'a self, request: VcekRequest<'a>) -> VcekFuture<'a> {
            assert_eq!(request.generation, None, "a v2 report names no generation");
            let der = self.0.clone();
            Box::pin(async move { Ok(der) })
        }
    }
    let roots = Arc::new(AmdRoots::bundled().unwrap());
    let v = SnpVerifier::new(Arc::clone(&roots), Arc::new(Fixed(read("trustee/test-vcek.der"))));
    let e = evidence(read("trustee/test-report.bin"), None, None);
    attest_with(&v, &e, "2025-01-01T00:00:00Z").await.unwrap();
    let v = SnpVerifier::new(roots, Arc::new(Fixed(read("virtee-sev/vcek_milan.der"))));
    assert_eq!(
        code(attest_with(&v, &e, "2025-01-01T00:00:00Z").await),
        "ChipIdMismatch"
    );
}

#[tokio::test]
async fn debuggable_guests_can_be_refused() {
    // No vector has DEBUG set; the option must not reject the ones that do not.
    let (report, certs) = tr1();
    let v = SnpVerifier::with_bundled_roots()
        .unwrap()
        .with_options(SnpOptions { reject_debug: true });
    let e = evidence(maa_document(&report, &certs), None, None);
    attest_with(&v, &e, "2025-01-01T00:00:00Z").await.unwrap();
}

#[tokio::test]
async fn chains_are_cached_but_time_is_checked_every_time() {
    let (report, certs) = tr1();
    let v = SnpVerifier::with_bundled_roots().unwrap();
    let e = evidence(maa_document(&report, &certs), None, None);
    assert!(v.cache().is_empty());
    attest_with(&v, &e, "2025-01-01T00:00:00Z").await.unwrap();
    attest_with(&v, &e, "2026-01-01T00:00:00Z").await.unwrap();
    assert_eq!(v.cache().len(), 1);
    assert_eq!(code(attest_with(&v, &e, "2031-01-01T00:00:00Z").await), "VekExpired");
    // The cache finds a certificate by its last bytes: one that ends like the cached VCEK but
    // differs elsewhere is verified, fails, and leaves the cached one in place.
    let mut forged = certs.clone();
    let vcek = forged
        .iter_mut()
        .find(|c| roots().generation_of_certificate(c).is_none())
        .unwrap();
    // The last digit of notBefore's seconds (a UTCTime, tag 0x17, 13 bytes): still a valid time.
    let not_before = vcek.windows(2).position(|w| w == [0x17, 0x0d]).unwrap();
    vcek[not_before + 2 + 11] ^= 1;
    let f = evidence(maa_document(&report, &forged), None, None);
    assert_eq!(
        code(attest_with(&v, &f, "2025-01-01T00:00:00Z").await),
        "VekSignatureInvalid"
    );
    assert_eq!(v.cache().len(), 1);
    attest_with(&v, &e, "2025-01-01T00:00:00Z").await.unwrap();
    // A tampered report with a cached VCEK still costs (and fails) the signature check.
    let mut r = report.clone();
    r[0x90] ^= 1;
    let e = evidence(maa_document(&r, &certs), None, None);
    assert_eq!(
        code(attest_with(&v, &e, "2025-01-01T00:00:00Z").await),
        "ReportSignatureInvalid"
    );
}

// ---- runtime data binding, on Azure CVM evidence (CATALOG.md section 6) -----------------------

/// The SNP report and the runtime variable data of an Azure HCL report: a 32-byte header, the
/// 1184-byte report, a 20-byte IGVM request header whose fifth u32 is the data size, the data.
fn split_hcl(hcl: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let report = hcl[32..32 + 1184].to_vec();
    let size = u32::from_le_bytes(hcl[1232..1236].try_into().unwrap()) as usize;
    (report, hcl[1236..1236 + size].to_vec())
}

fn azure(path: &str) -> Vec<u8> {
    std::fs::read(attestd_testkit::vectors_dir().join("azure-cvm").join(path)).unwrap()
}

fn json_data(bytes: Vec<u8>) -> BoundData {
    BoundData {
        bytes,
        data_type: DataType::Json,
    }
}

#[tokio::test]
async fn az_snp_4_runtime_data_is_bound_and_emitted() {
    let (report, var_data) = split_hcl(&azure("trustee-az-snp/hcl-report.bin"));
    let certs: Vec<Vec<u8>> = x509_parser::pem::Pem::iter_from_buffer(&azure("trustee-az-snp/vcek.pem"))
        .map(|p| p.unwrap().contents)
        .collect();
    let doc = maa_document(&report, &certs);
    let when = "2025-06-01T00:00:00Z";

    let e = evidence(doc.clone(), Some(json_data(var_data.clone())), None);
    let a = attest_with(verifier(), &e, when).await.unwrap();
    let runtime: serde_json::Value = serde_json::from_slice(&var_data).unwrap();
    assert_eq!(claim(&a, "x-ms-runtime"), &runtime);
    assert!(runtime["keys"][0]["kid"] == "HCLAkPub");
    assert_eq!(
        a.incoming.value("x-ms-runtime").map(|v| v.to_json()),
        Some(runtime.clone())
    );
    let rd = claim(&a, "x-ms-sevsnpvm-reportdata").as_str().unwrap();
    assert_eq!(
        &rd[..64],
        hex::encode(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &var_data))
    );

    // Binary runtime data is bound the same way but not interpreted.
    let e = evidence(
        doc.clone(),
        Some(BoundData {
            bytes: var_data.clone(),
            data_type: DataType::Binary,
        }),
        None,
    );
    let a = attest_with(verifier(), &e, when).await.unwrap();
    assert!(!a.token_claims.contains_key("x-ms-runtime"));

    // Other runtime data (here: the same JSON re-serialized) is not what the report bound.
    let other = serde_json::to_vec(&runtime).unwrap();
    assert_ne!(other, var_data);
    let e = evidence(doc.clone(), Some(json_data(other)), None);
    assert_eq!(code(attest_with(verifier(), &e, when).await), "RuntimeDataMismatch");

    // HOST_DATA is zero in this report: no init-time data hashes to it.
    let e = evidence(doc, None, Some(json_data(b"{}".to_vec())));
    assert_eq!(code(attest_with(verifier(), &e, when).await), "InitTimeDataMismatch");
}

#[tokio::test]
async fn az_snp_3_genoa_runtime_data_is_bound() {
    let doc: serde_json::Value = serde_json::from_slice(&azure("trustee-az-snp/evidence-genoa.json")).unwrap();
    let hcl: Vec<u8> = doc["report"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b.as_u64().unwrap() as u8)
        .collect();
    let (report, var_data) = split_hcl(&hcl);
    let vcek: Vec<Vec<u8>> = x509_parser::pem::Pem::iter_from_buffer(doc["vcek"].as_str().unwrap().as_bytes())
        .map(|p| p.unwrap().contents)
        .collect();
    let e = evidence(maa_document(&report, &vcek), Some(json_data(var_data)), None);
    let a = attest_with(verifier(), &e, "2025-06-01T00:00:00Z").await.unwrap();
    assert_eq!(
        claim(&a, "x-ms-sevsnpvm-launchmeasurement"),
        "f57dc09a507c6ecd82369bffb600f0003792f4d99bc26e985ec0c266fc34faf3706faf814c9e61065768a6ff917c89ae"
    );
    for (name, value) in [
        ("x-ms-sevsnpvm-bootloader-svn", 10),
        ("x-ms-sevsnpvm-tee-svn", 0),
        ("x-ms-sevsnpvm-snpfw-svn", 23),
        ("x-ms-sevsnpvm-microcode-svn", 84),
    ] {
        assert_eq!(claim(&a, name), value, "{name}");
    }
    assert!(claim(&a, "x-ms-runtime")["vm-configuration"].is_object());
}

// ---- robustness -----------------------------------------------------------------------------

/// A deterministic xorshift generator, so a failure can be replayed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

#[tokio::test]
async fn random_flips_in_real_reports_never_panic_and_never_verify() {
    let cases = [
        (tr1().0, tr1().1, "2025-01-01T00:00:00Z"),
        (
            read("trustee/test-vlek-report.bin"),
            vec![read("trustee/test-vlek.der")],
            "2025-06-01T00:00:00Z",
        ),
        (
            read("trustee/e2e-report.derived.bin"),
            vec![read("trustee/e2e-vcek.derived.der")],
            "2025-06-01T00:00:00Z",
        ),
    ];
    let mut rng = Rng(0x5eed_5eed_1234_5678);
    for (report, certs, when) in &cases {
        assert!(attest(maa_document(report, certs), when).await.is_ok());
        // Every byte of the report, one random bit each...
        for i in 0..report.len() {
            let mut r = report.clone();
            r[i] ^= 1 << rng.below(8);
            let result = attest(maa_document(&r, certs), when).await;
            assert!(result.is_err(), "flipping a bit of byte {i:#x} still verified");
        }
        // ... and random multi-byte corruption of the report and of the whole document.
        for _ in 0..300 {
            let mut r = report.clone();
            for _ in 0..1 + rng.below(4) {
                let i = rng.below(r.len());
                r[i] = rng.next() as u8;
            }
            if r != *report {
                assert!(attest(maa_document(&r, certs), when).await.is_err());
            }
            let mut doc = maa_document(report, certs);
            let i = rng.below(doc.len());
            let before = doc[i];
            doc[i] = rng.next() as u8;
            if doc[i] != before {
                // A change in JSON whitespace or base64 padding may keep the meaning; it must
                // never panic, and anything that verifies must still carry the original report.
                if let Ok(a) = attest(doc, when).await {
                    let rid = hex::encode(&report[0x140..0x160]);
                    assert_eq!(claim(&a, "x-ms-sevsnpvm-reportid"), rid.as_str());
                }
            }
        }
    }
    // Truncations and extensions of a raw report.
    let report = tr1().0;
    for len in [0, 1, 4, 0x2A0, 1183, 1185, 2048] {
        let mut r = report.clone();
        r.resize(len, 0);
        assert!(
            attest(maa_document(&r, &tr1().1), "2025-01-01T00:00:00Z")
                .await
                .is_err(),
            "{len}"
        );
        assert!(attest(r, "2025-01-01T00:00:00Z").await.is_err(), "raw {len}");
    }
}

#[tokio::test]
async fn az_kv_2_vcek_of_another_chip_is_refused() {
    // kinvolk's HCL report and certs.pem: the VCEK chains to Milan and has the report's TCB, but
    // it belongs to another chip (hwID da8a5695… vs CHIP_ID 3a5d5b1d…).
    let hcl = azure("kinvolk-azure-cvm-tooling/hcl-report-snp.bin");
    let report = hcl[32..32 + 1184].to_vec();
    let certs: Vec<Vec<u8>> = x509_parser::pem::Pem::iter_from_buffer(&azure("kinvolk-azure-cvm-tooling/certs.pem"))
        .map(|p| p.unwrap().contents)
        .collect();
    let vek = Vek::parse(&certs[0]).unwrap();
    roots().verify_vek(&vek, at("2024-01-01T00:00:00Z"), &[]).unwrap();
    assert_eq!(
        code(attest(maa_document(&report, &certs), "2024-01-01T00:00:00Z").await),
        "ChipIdMismatch"
    );
    // Even with the chip check out of the way, the signature would not verify.
    let parsed = AttestationReport::parse(&report).unwrap();
    assert_eq!(
        vek.verify_report_signature(&parsed).unwrap_err().code,
        ErrorCode::ReportSignatureInvalid
    );
}
