//! MAA's `AttestationInfo` for `/attest/AzureGuest`, built from the catalog's AZ-SNP-4 evidence
//! (trustee's Milan HCL report, its vTPM quote over 24 PCRs with nonce `challenge`, and the VCEK
//! chain), as the Azure guest attestation libraries send it; and [`TdxGuest`], a software TDX CVM
//! guest whose TD quote comes from the testkit's DCAP test CA.

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

/// The `vmUniqueId` of the software TDX guest ([`TdxGuest`]).
pub const TDX_VM_ID: &str = "7D1C0A52-3E4B-4F1A-9C2D-5B6A7E8F9012";

/// A software Azure TDX CVM guest, for `/attest/AzureGuest` tests: no real TDX CVM evidence with
/// its TD quote is in the catalog (AZ-KV-3 has only a TDX HCL report), so this one is built
/// from its parts: a vTPM attestation key (`HCLAkPub`) and an encryption key (RSA-2048, in
/// software), the HCL runtime data naming them, the TD whose REPORTDATA binds that runtime data
/// (quote it with [`crate::dcap::TestPlatform::td_quote`]), and a vTPM quote over 24 SHA-256
/// PCRs.
pub struct TdxGuest {
    /// The vTPM attestation key, `HCLAkPub` of the runtime data.
    pub ak: aws_lc_rs::rsa::KeyPair,
    /// The ephemeral encryption key (`TpmInfo.EncKeyPub`) the AK certifies.
    pub enc_key: aws_lc_rs::rsa::KeyPair,
    /// The HCL runtime data (JSON: `keys`, `vm-configuration`, `user-data`).
    pub runtime_data: Vec<u8>,
    /// The TD: the testkit's default measurements, REPORTDATA = SHA-256(runtime data) ‖ zeros.
    pub td: crate::dcap::TrustDomain,
    /// The SHA-256 PCR bank, PCR i filled with byte `i`.
    pub pcrs: Vec<[u8; 32]>,
}

impl Default for TdxGuest {
    fn default() -> Self {
        TdxGuest::new()
    }
}

fn rsa_parts(k: &aws_lc_rs::rsa::KeyPair) -> (Vec<u8>, Vec<u8>) {
    use aws_lc_rs::signature::KeyPair as _;
    let p: aws_lc_rs::rsa::PublicKeyComponents<Vec<u8>> = k.public_key().into();
    (p.n, p.e)
}

fn rsa_sign(k: &aws_lc_rs::rsa::KeyPair, msg: &[u8]) -> Vec<u8> {
    let mut sig = vec![0u8; k.public_modulus_len()];
    k.sign(
        &aws_lc_rs::signature::RSA_PKCS1_SHA256,
        &aws_lc_rs::rand::SystemRandom::new(),
        msg,
        &mut sig,
    )
    .expect("RSA signing");
    sig
}

impl TdxGuest {
    /// A new guest with fresh keys.
    pub fn new() -> TdxGuest {
        use aws_lc_rs::rsa::{KeyPair, KeySize};
        let ak = KeyPair::generate(KeySize::Rsa2048).expect("AK");
        let enc_key = KeyPair::generate(KeySize::Rsa2048).expect("encryption key");
        let (n, e) = rsa_parts(&ak);
        let runtime = json!({
            "keys": [{"kid": "HCLAkPub", "kty": "RSA", "key_ops": ["sign"],
                      "n": URL_SAFE_NO_PAD.encode(&n), "e": URL_SAFE_NO_PAD.encode(&e)}],
            "vm-configuration": {"console-enabled": true, "secure-boot": true, "tpm-enabled": true,
                                 "tpm-persisted": true, "vmUniqueId": TDX_VM_ID},
            "user-data": hex::encode([0u8; 64]),
        });
        let runtime_data = runtime.to_string().into_bytes();
        let td = crate::dcap::TrustDomain::default().binding(&runtime_data);
        let pcrs = (0..24u8).map(|i| [i; 32]).collect();
        TdxGuest {
            ak,
            enc_key,
            runtime_data,
            td,
            pcrs,
        }
    }

    /// The HCL report whose TDREPORT describes [`TdxGuest::td`], with the runtime data: the
    /// report a TD quote of this guest was made from.
    pub fn hcl_report(&self) -> Vec<u8> {
        let mut b = vec![0u8; 0x4d4];
        b[..4].copy_from_slice(b"HCLA");
        b[4..8].copy_from_slice(&2u32.to_le_bytes());
        let hw = 0x20;
        b[hw] = 0x81; // REPORTTYPE: TDX
        b[hw + 0x80..hw + 0xc0].copy_from_slice(&self.td.report_data);
        let td_info = hw + 512;
        b[td_info + 3] = 0x10; // ATTRIBUTES: SEPT_VE_DISABLE
        b[td_info + 8..td_info + 16].copy_from_slice(&[0xe7, 0x02, 0x06, 0, 0, 0, 0, 0]); // XFAM
        b[td_info + 16..td_info + 64].copy_from_slice(&self.td.mr_td);
        b[td_info + 64..td_info + 112].copy_from_slice(&self.td.mr_config_id);
        for (i, r) in self.td.rtmr.iter().enumerate() {
            let at = td_info + 16 + 4 * 48 + i * 48;
            b[at..at + 48].copy_from_slice(r);
        }
        let var = u32::try_from(self.runtime_data.len()).expect("runtime data size");
        for (i, v) in [var + 20, 1, 4, 1, var].iter().enumerate() {
            b[0x4c0 + 4 * i..0x4c4 + 4 * i].copy_from_slice(&v.to_le_bytes());
        }
        b.extend(&self.runtime_data);
        b
    }

    /// The vTPM quote (`TPMS_ATTEST` over SHA-256 PCRs 0–23, `extraData` = `nonce`) and its raw
    /// RSASSA-PKCS1-v1_5-SHA256 signature by the AK.
    pub fn vtpm_quote(&self, nonce: &[u8]) -> (Vec<u8>, Vec<u8>) {
        let mut q = Vec::new();
        q.extend(0xff54_4347u32.to_be_bytes()); // TPM_GENERATED_VALUE
        q.extend(0x8018u16.to_be_bytes()); // TPM_ST_ATTEST_QUOTE
        q.extend(2u16.to_be_bytes()); // qualifiedSigner: an empty name with its algorithm
        q.extend([0, 0xb]);
        q.extend(u16::try_from(nonce.len()).expect("nonce size").to_be_bytes());
        q.extend(nonce);
        q.extend([0u8; 17]); // clockInfo
        q.extend(0x2016_0511_0016_2800u64.to_be_bytes());
        q.extend(1u32.to_be_bytes());
        q.extend(0x000bu16.to_be_bytes());
        q.extend([3, 0xff, 0xff, 0xff]);
        let all: Vec<u8> = self.pcrs.iter().flatten().copied().collect();
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &all);
        q.extend(32u16.to_be_bytes());
        q.extend(digest.as_ref());
        let sig = rsa_sign(&self.ak, &q);
        (q, sig)
    }

    /// `TpmInfo.EncKeyPub` and its TPM2_Certify structure (`TPMS_ATTEST` of type certify naming
    /// the key) with the AK's raw signature.
    pub fn certified_enc_key(&self) -> (Vec<u8>, Vec<u8>, Vec<u8>) {
        let key = tpm2b_public(&rsa_parts(&self.enc_key).0);
        let mut name = 0x000bu16.to_be_bytes().to_vec();
        name.extend(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &key[2..]).as_ref());
        let mut c = 0xff54_4347u32.to_be_bytes().to_vec();
        c.extend(0x8017u16.to_be_bytes()); // TPM_ST_ATTEST_CERTIFY
        c.extend(0u16.to_be_bytes()); // qualifiedSigner
        c.extend(0u16.to_be_bytes()); // extraData
        c.extend([0u8; 25]); // clockInfo, firmwareVersion
        c.extend(u16::try_from(name.len()).expect("name size").to_be_bytes());
        c.extend(&name);
        c.extend(0u16.to_be_bytes()); // qualifiedName
        let sig = rsa_sign(&self.ak, &c);
        (key, c, sig)
    }

    /// The `AttestationInfo` JSON of this guest with the TD quote `td_quote` as
    /// `IsolationInfo.Evidence.Proof` (standard base64 of its bytes, as Azure's
    /// `cvm-attestation-tools` sends it), the runtime data, and a vTPM quote answering `nonce`
    /// with the certified encryption key.
    pub fn attestation_info(&self, td_quote: &[u8], nonce: &[u8]) -> Value {
        let (quote, signature) = self.vtpm_quote(nonce);
        let (enc, certify, certify_sig) = self.certified_enc_key();
        let pcrs: Vec<Value> = self
            .pcrs
            .iter()
            .enumerate()
            .map(|(i, d)| json!({"Index": i, "Digest": b64(d)}))
            .collect();
        json!({
            "AttestationProtocolVersion": "2.0",
            "ClientPayload": {"nonce": b64(nonce)},
            "IsolationInfo": {"Type": "Tdx", "Evidence": {
                "Proof": b64(td_quote),
                "RunTimeData": b64(&self.runtime_data),
            }},
            "OSBuild": b64(b"NotApplicable"), "OSDistro": b64(b"Ubuntu"), "OSType": b64(b"Linux"),
            "OSVersionMajor": 24, "OSVersionMinor": 4,
            "TpmInfo": {
                "AikPub": b64(&tpm2b_public(&rsa_parts(&self.ak).0)),
                "PcrQuote": b64(&quote),
                "PcrSignature": b64(&signature),
                "PCRs": pcrs,
                "EncKeyPub": b64(&enc),
                "EncKeyCertifyInfo": b64(&certify),
                "EncKeyCertifyInfoSignature": b64(&certify_sig),
            }
        })
    }

    /// Opens MAA's sealed answer (`token` of the response: base64url of the envelope) with the
    /// encryption key, as the guest's vTPM would: the JWT inside.
    ///
    /// # Panics
    /// If it does not open: the test fails.
    pub fn open_sealed(&self, sealed: &str) -> String {
        use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
        use aws_lc_rs::encoding::AsDer;
        use aws_lc_rs::rsa::{Pkcs1PrivateDecryptingKey, PrivateDecryptingKey};
        let envelope: Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(sealed).expect("base64url envelope")).expect("envelope");
        let field = |v: &Value| STANDARD.decode(v.as_str().expect("a base64 field")).expect("base64");
        let der = self.enc_key.as_der().expect("PKCS#8");
        let key = Pkcs1PrivateDecryptingKey::new(PrivateDecryptingKey::from_pkcs8(der.as_ref()).expect("key"))
            .expect("PKCS#1 key");
        let mut inner = vec![0u8; 256];
        let inner = key
            .decrypt(&field(&envelope["EncryptedInnerKey"]), &mut inner)
            .expect("the inner key opens with the encryption key")
            .to_vec();
        let iv: [u8; 12] = field(&envelope["EncryptionParams"]["Iv"])
            .try_into()
            .expect("12-byte IV");
        let aead = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &inner).expect("AES-256 key"));
        let mut data = field(&envelope["Jwt"]);
        data.extend(field(&envelope["AuthenticationData"]));
        let jwt = aead
            .open_in_place(Nonce::assume_unique_for_key(iv), Aad::from(b"Transport Key"), &mut data)
            .expect("the JWT opens");
        String::from_utf8(jwt.to_vec()).expect("JWT text")
    }
}
