//! The Azure CVM cases of the shared vector catalog (CATALOG.md section 6): HCL reports with
//! their vTPM quotes verify with the catalog's values at its time, and every tamper fails with
//! its own code.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::SystemTime;

use attestd_azure_guest::{GuestVerifier, HclReport, VtpmQuote, claims};
use attestd_snp::SnpVerifier;
use base64::Engine;
use serde_json::Value;

fn read(p: &str) -> Vec<u8> {
    std::fs::read(attestd_testkit::vectors_dir().join("azure-cvm").join(p)).unwrap_or_else(|e| panic!("{p}: {e}"))
}

fn at(rfc3339: &str) -> SystemTime {
    let t = time::OffsetDateTime::parse(rfc3339, &time::format_description::well_known::Rfc3339).unwrap();
    SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(u64::try_from(t.unix_timestamp()).unwrap())
}

fn when() -> SystemTime {
    at("2025-06-01T00:00:00Z")
}

const NONCE: &[u8] = b"challenge";

fn pem_certs(pem: &[u8]) -> Vec<Vec<u8>> {
    let text = String::from_utf8(pem.to_vec()).unwrap();
    text.split("-----BEGIN CERTIFICATE-----")
        .skip(1)
        .map(|block| {
            let body: String = block
                .split("-----END CERTIFICATE-----")
                .next()
                .unwrap()
                .chars()
                .filter(|c| !c.is_whitespace())
                .collect();
            base64::engine::general_purpose::STANDARD.decode(body).unwrap()
        })
        .collect()
}

/// Standard or URL-safe base64, padded or not (trustee's files use both).
fn b64(s: &str) -> Vec<u8> {
    let normalized: String = s.trim_end_matches('=').replace('-', "+").replace('_', "/");
    base64::engine::general_purpose::STANDARD_NO_PAD
        .decode(normalized)
        .unwrap()
}

fn bytes(v: &Value) -> Vec<u8> {
    match v {
        Value::Array(a) => a.iter().map(|b| u8::try_from(b.as_u64().unwrap()).unwrap()).collect(),
        Value::String(s) => hex::decode(s).unwrap(),
        other => panic!("{other}"),
    }
}

/// trustee's evidence: v0 (byte arrays, PEM VCEK) or v1/v2 (base64 HCL report, hex quote,
/// base64 DER VCEK).
fn trustee(file: &str) -> (Vec<u8>, VtpmQuote, Vec<Vec<u8>>) {
    let j: Value = serde_json::from_slice(&read(&format!("trustee-az-snp/{file}"))).unwrap();
    let (report, quote) = if j.get("version").is_some() {
        let report = b64(j["hcl_report"].as_str().unwrap());
        (report, &j["tpm_quote"])
    } else {
        (bytes(&j["report"]), &j["quote"])
    };
    let vcek = j["vcek"].as_str().unwrap();
    let certs = if vcek.starts_with("-----") {
        pem_certs(vcek.as_bytes())
    } else {
        vec![b64(vcek)]
    };
    let quote = VtpmQuote {
        message: bytes(&quote["message"]),
        signature: bytes(&quote["signature"]),
        pcrs: quote["pcrs"].as_array().unwrap().iter().map(bytes).collect(),
    };
    (report, quote, certs)
}

fn tpm_quote_v1() -> VtpmQuote {
    let j: Value = serde_json::from_slice(&read("trustee-az-snp/tpm-quote-v1.json")).unwrap();
    VtpmQuote {
        message: bytes(&j["message"]),
        signature: bytes(&j["signature"]),
        pcrs: j["pcrs"].as_array().unwrap().iter().map(bytes).collect(),
    }
}

fn verifier() -> GuestVerifier {
    GuestVerifier::new(Arc::new(SnpVerifier::with_bundled_roots().unwrap()))
}

async fn verify(report: &[u8], quote: &VtpmQuote, certs: &[Vec<u8>], nonce: &[u8]) -> Result<Value, String> {
    verifier()
        .verify(report, quote, certs.to_vec(), nonce, when())
        .await
        .map(|g| serde_json::to_value(claims::appraisal(&g).token_claims).unwrap())
        .map_err(|e| e.code.to_string())
}

#[tokio::test]
async fn az_snp_1_both_layouts_verify_with_trustees_values() {
    for file in ["evidence-v0.json", "evidence-v1.json"] {
        let (report, quote, certs) = trustee(file);
        let c = verify(&report, &quote, &certs, NONCE)
            .await
            .unwrap_or_else(|e| panic!("{file}: {e}"));
        let tee = &c["x-ms-isolation-tee"];
        assert_eq!(tee["x-ms-attestation-type"], "sevsnpvm");
        assert_eq!(
            tee["x-ms-sevsnpvm-launchmeasurement"],
            "6a063be9dd79f6371c842e480f8dc3b5c725961344e57130e88c5adf49e8f7f6c79b75a5eb77fc769959f4aeb2f9401e"
        );
        assert!(
            tee["x-ms-sevsnpvm-reportdata"]
                .as_str()
                .unwrap()
                .starts_with("af2910341dd8108360e485f1b72494255190b9cdd5ccb44b73b883037cf99f21")
        );
        assert_eq!(tee["x-ms-sevsnpvm-bootloader-svn"], 4);
        assert_eq!(tee["x-ms-sevsnpvm-snpfw-svn"], 24);
        assert_eq!(tee["x-ms-sevsnpvm-microcode-svn"], 219);
        assert_eq!(
            tee["x-ms-runtime"]["vm-configuration"]["vmUniqueId"],
            "26F8BC30-774E-4290-8E7A-535F3B672AEE"
        );
        assert_eq!(c["x-ms-azurevm-vmid"], "26F8BC30-774E-4290-8E7A-535F3B672AEE");
        assert_eq!(c["secureboot"], true);
        assert_eq!(
            c["x-ms-azurevm-pcrs"]["0"],
            "e15c44796beabf46abcec7c57e590942041e47497e4ec27571c8b7664f48dced"
        );
    }
}

#[tokio::test]
async fn az_snp_2_and_3_verify() {
    // Here the quote's nonce is the guest's 48-byte report data.
    let nonce =
        hex::decode("982f5c6e45df0ed3f10b6f60b02f0c8390e281300f3805e2279c16168cd6ae9aa398f647caa2338748cd0fd9f5f819ef")
            .unwrap();
    let (report, quote, certs) = trustee("evidence-v2.json");
    let c = verify(&report, &quote, &certs, &nonce).await.unwrap();
    assert_eq!(
        verify(&report, &quote, &certs, b"\x12\x3a\xbc").await.unwrap_err(),
        "VtpmQuoteNonceMismatch"
    );
    assert_eq!(
        c["x-ms-azurevm-pcrs"]["0"],
        "84275b2f4312cd4fc6cbe6b152ad3c3683e513d9f1e23c34fca160c8cca7a6a7"
    );
    // HCL user-data carries the guest's report data (48 bytes + 16 zero bytes).
    assert!(
        c["x-ms-isolation-tee"]["x-ms-runtime"]["user-data"]
            .as_str()
            .unwrap()
            .to_ascii_lowercase()
            .starts_with("982f5c6e45df0ed3f10b6f60b02f0c8390e281300f3805e2279c16168cd6ae9a")
    );
    let nonce =
        hex::decode("0218488bae25d2509232bf676f1a66a30d7372add909109b36016ef136f2938ca05475f8b46094de6b64270ea35d950f")
            .unwrap();
    let (report, quote, certs) = trustee("evidence-genoa.json");
    let c = verify(&report, &quote, &certs, &nonce).await.unwrap();
    assert_eq!(
        c["x-ms-azurevm-pcrs"]["0"],
        "afd689d0bb1c5f36f023fbaf574135f555a28a10c1f6b938d2a25e70c7783338"
    );
    assert_eq!(
        c["x-ms-isolation-tee"]["x-ms-sevsnpvm-launchmeasurement"],
        "f57dc09a507c6ecd82369bffb600f0003792f4d99bc26e985ec0c266fc34faf3706faf814c9e61065768a6ff917c89ae"
    );
    assert_eq!(c["x-ms-isolation-tee"]["x-ms-sevsnpvm-bootloader-svn"], 10);
    // The Genoa VCEK file is the evidence's own VCEK.
    assert_eq!(pem_certs(&read("trustee-az-snp/vcek-genoa.pem"))[0], certs[0]);
}

#[tokio::test]
async fn az_snp_4_and_its_tampers() {
    let report = read("trustee-az-snp/hcl-report.bin");
    let quote = tpm_quote_v1();
    let certs = pem_certs(&read("trustee-az-snp/vcek.pem"));
    let c = verify(&report, &quote, &certs, NONCE).await.unwrap();
    assert_eq!(c["x-ms-azurevm-attested-pcrs"].as_array().unwrap().len(), 24);

    let code = |r: Vec<u8>, q: VtpmQuote, nonce: &'static [u8]| {
        let certs = certs.clone();
        async move { verify(&r, &q, &certs, nonce).await.unwrap_err() }
    };
    // The SNP report body (REPORTED_TCB): the report signature fails.
    let mut r = report.clone();
    r[0x01a6] = 0;
    let report_body = code(r, quote.clone(), NONCE).await;
    assert!(
        report_body.starts_with("Report") || report_body.contains("Tcb"),
        "{report_body}"
    );
    // The runtime data: its digest no longer matches REPORT_DATA.
    let mut r = report.clone();
    r[0x06e0] = r[0x06e0].wrapping_add(1);
    assert_eq!(code(r, quote.clone(), NONCE).await, "HclBindingMismatch");
    // A NUL in the runtime data JSON (where trustee expects the AK): unreadable runtime data.
    let mut r = report.clone();
    r[0x0540] = 0;
    assert_eq!(code(r, quote.clone(), NONCE).await, "HclRuntimeDataMalformed");
    // The quote signature.
    let mut q = quote.clone();
    q.signature[0] ^= 1;
    assert_eq!(code(report.clone(), q, NONCE).await, "VtpmQuoteSignatureInvalid");
    // The nonce, reversed.
    assert_eq!(
        code(report.clone(), quote.clone(), b"egnellahc").await,
        "VtpmQuoteNonceMismatch"
    );
    // A PCR value.
    let mut q = quote.clone();
    q.pcrs[0][0] ^= 1;
    assert_eq!(code(report.clone(), q, NONCE).await, "VtpmPcrMismatch");
    // A VCEK of another generation's chain, and no VCEK at all.
    let genoa = pem_certs(&read("trustee-az-snp/vcek-genoa.pem"));
    let wrong = verify(&report, &quote, &genoa, NONCE).await.unwrap_err();
    assert_ne!(wrong, "HclBindingMismatch");
    assert_eq!(
        verify(&report, &quote, &[], NONCE).await.unwrap_err(),
        "VcekUnavailable"
    );
}

#[tokio::test]
async fn az_kv_2_binds_but_its_vcek_belongs_to_another_chip() {
    let report = read("kinvolk-azure-cvm-tooling/hcl-report-snp.bin");
    let hcl = HclReport::parse(&report).unwrap();
    assert_eq!(
        hex::encode(&hcl.report_data()[..32]),
        "1d0a466a9eed975e88f889f7aed4abc1c97e87c4f43e5e3478c9a4a5853cbd7d"
    );
    hcl.check_binding(hcl.report_data()).unwrap();
    let certs = pem_certs(&read("kinvolk-azure-cvm-tooling/certs.pem"));
    let err = verifier()
        .verify(&report, &tpm_quote_v1(), certs, NONCE, at("2024-01-01T00:00:00Z"))
        .await
        .unwrap_err();
    assert!(
        err.code.contains("Chip") || err.code.contains("Signature"),
        "{}: {}",
        err.code,
        err.message
    );
}

#[test]
fn az_kv_3_tdx_hcl_report_binds_and_carries_the_ak() {
    let report = read("kinvolk-azure-cvm-tooling/hcl-report-tdx.bin");
    let hcl = HclReport::parse(&report).unwrap();
    assert_eq!(hcl.report_type(), attestd_azure_guest::HardwareReportType::Tdx);
    hcl.check_binding(hcl.report_data()).unwrap();
    let (n, e) = hcl.runtime_data().unwrap().attestation_key().unwrap();
    assert_eq!(n.len(), 256);
    assert_eq!(e, [1, 0, 1]);
}

#[test]
fn az_kv_1_quote_verifies_with_its_ak_and_fails_otherwise() {
    // kinvolk's bincode Quote: u64 length + signature, u64 length + message, u64 count + 32-byte PCRs.
    let raw = read("kinvolk-azure-cvm-tooling/quote.bin");
    let mut at = 0;
    let mut take = |n: usize| {
        let s = raw[at..at + n].to_vec();
        at += n;
        s
    };
    let len = |b: Vec<u8>| usize::try_from(u64::from_le_bytes(b.try_into().unwrap())).unwrap();
    let sig_len = len(take(8));
    let signature = take(sig_len);
    let msg_len = len(take(8));
    let message = take(msg_len);
    let count = len(take(8));
    let pcrs: Vec<Vec<u8>> = (0..count).map(|_| take(32)).collect();
    let quote = VtpmQuote {
        message,
        signature,
        pcrs,
    };
    let pem = read("kinvolk-azure-cvm-tooling/akpub.pem");
    let (_, pem) = x509_parser::pem::parse_x509_pem(&pem).unwrap();
    use x509_parser::prelude::FromDer;
    let (_, spki) = x509_parser::x509::SubjectPublicKeyInfo::from_der(&pem.contents).unwrap();
    let Ok(x509_parser::public_key::PublicKey::RSA(rsa)) = spki.parsed() else {
        panic!("RSA expected")
    };
    // DER INTEGERs may carry a leading zero byte; the key wants the bare big-endian values.
    let strip = |b: &[u8]| b.iter().skip_while(|x| **x == 0).copied().collect::<Vec<u8>>();
    let key = (strip(rsa.modulus), strip(rsa.exponent));
    let pcrs = quote.verify(key.clone(), Some(NONCE)).unwrap();
    assert_eq!(
        hex::encode(&pcrs[0].1),
        "f3a7e99a5f819a034386bce753a48a73cfdaa0bea0ecfc124bedbf5a8c4799be"
    );
    let mut reversed = quote.clone();
    reversed.signature.reverse();
    assert_eq!(
        reversed.verify(key.clone(), Some(NONCE)).unwrap_err().code,
        "VtpmQuoteSignatureInvalid"
    );
    assert_eq!(
        quote.verify(key, Some(&[1, 2, 3, 4])).unwrap_err().code,
        "VtpmQuoteNonceMismatch"
    );
}
