//! MAA's `AttestationInfo` for `/attest/AzureGuest`, built from the catalog's AZ-SNP-4 evidence
//! (trustee's Milan HCL report, its vTPM quote over 24 PCRs with nonce `challenge`, and the VCEK
//! chain), as the Azure guest attestation libraries send it.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::{Value, json};

fn read(rel: &str) -> Vec<u8> {
    let path = crate::vectors_dir().join("azure-cvm").join(rel);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Standard base64, as Go's `[]byte` fields are sent.
pub fn b64(b: &[u8]) -> String {
    STANDARD.encode(b)
}

/// A `TPM2B_PUBLIC` of an RSA-2048 key with modulus `n` (exponent 65537, SHA-256 name).
pub fn tpm2b_public(n: &[u8]) -> Vec<u8> {
    let mut t = Vec::new();
    for v in [0x0001u16, 0x000b] {
        t.extend(v.to_be_bytes());
    }
    t.extend(0x0005_0072u32.to_be_bytes());
    for v in [0u16, 0x0010, 0x0010, 2048] {
        t.extend(v.to_be_bytes());
    }
    t.extend(0u32.to_be_bytes());
    t.extend(u16::try_from(n.len()).unwrap_or(u16::MAX).to_be_bytes());
    t.extend(n);
    let mut out = u16::try_from(t.len()).unwrap_or(u16::MAX).to_be_bytes().to_vec();
    out.extend(t);
    out
}

/// The `AttestationInfo` JSON (before its base64url transport encoding).
pub fn attestation_info() -> Value {
    let hcl = read("trustee-az-snp/hcl-report.bin");
    // HCL layout: 32-byte header, 1184-byte SNP report, 20-byte runtime header, variable data.
    let report = &hcl[0x20..0x4c0];
    let var_len = u32::from_le_bytes([hcl[0x4d0], hcl[0x4d1], hcl[0x4d2], hcl[0x4d3]]) as usize;
    let runtime_data = &hcl[0x4d4..0x4d4 + var_len];
    let runtime: Value = serde_json::from_slice(runtime_data).expect("runtime data JSON");
    let ak = runtime["keys"]
        .as_array()
        .and_then(|k| k.iter().find(|k| k["kid"] == "HCLAkPub"))
        .expect("HCLAkPub");
    let n = URL_SAFE_NO_PAD.decode(ak["n"].as_str().expect("n")).expect("n");
    let proof =
        json!({"SnpReport": URL_SAFE_NO_PAD.encode(report), "VcekCertChain": b64(&read("trustee-az-snp/vcek.pem"))});
    let quote: Value = serde_json::from_slice(&read("trustee-az-snp/tpm-quote-v1.json")).expect("quote");
    let hex_field = |k: &str| hex::decode(quote[k].as_str().expect(k)).expect(k);
    let pcrs: Vec<Value> = quote["pcrs"]
        .as_array()
        .expect("pcrs")
        .iter()
        .enumerate()
        .map(|(i, d)| json!({"Index": i, "Digest": b64(&hex::decode(d.as_str().expect("pcr")).expect("pcr"))}))
        .collect();
    json!({
        "AttestationProtocolVersion": "2.0",
        "ClientPayload": {"nonce": b64(b"challenge")},
        "IsolationInfo": {"Type": "SevSnp", "Evidence": {
            "Proof": b64(proof.to_string().as_bytes()),
            "RunTimeData": b64(runtime_data),
        }},
        "OSBuild": b64(b"NotApplicable"), "OSDistro": b64(b"Ubuntu"), "OSType": b64(b"Linux"),
        "OSVersionMajor": 22, "OSVersionMinor": 4,
        "TpmInfo": {
            "AikPub": b64(&tpm2b_public(&n)),
            "PcrQuote": b64(&hex_field("message")),
            "PcrSignature": b64(&hex_field("signature")),
            "PcrSet": (0..24).collect::<Vec<u32>>(),
            "PCRs": pcrs,
        }
    })
}
