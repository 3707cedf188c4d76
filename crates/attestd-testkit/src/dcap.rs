//! A test-CA SGX DCAP world: a test root, a PCK Processor CA, PCK leaf certificates carrying
//! Intel's SGX extension (FMSPC, PCE-ID, TCB components, PCESVN, CPUSVN), a TCB signer, signed TCB
//! info and QE identity JSON, CRLs, and SGX quotes v3 signed by an attestation key whose QE report
//! is signed by the PCK key — with a [`Break`] per check to produce evidence that must fail it.
//!
//! The layout follows Intel's DCAP quote library (quote v3: 48-byte header, 384-byte ISV
//! enclave report, ECDSA-P256 signature data with certification data type 5). Nothing here is
//! trusted by a verifier that only trusts Intel's root.

use aws_lc_rs::digest;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair as _};
use rcgen::{
    BasicConstraints, CertificateParams, CertificateRevocationListParams, CertifiedIssuer, CustomExtension, DnType,
    IsCa, KeyIdMethod, KeyPair, KeyUsagePurpose, PKCS_ECDSA_P256_SHA256, RevokedCertParams, SerialNumber,
};
use serde_json::json;
use time::{Duration, OffsetDateTime};

/// Intel's QE vendor ID.
const QE_VENDOR_ID: [u8; 16] = [
    0x93, 0x9a, 0x72, 0x33, 0xf7, 0x9c, 0x4c, 0xa9, 0x94, 0x0a, 0x0d, 0xb3, 0x95, 0x7f, 0x06, 0x07,
];
/// DER of OID 1.2.840.113741.1.13.1 (Intel SGX extension), content only.
const SGX_OID: [u8; 9] = [0x2a, 0x86, 0x48, 0x86, 0xf8, 0x4d, 0x01, 0x0d, 0x01];
/// The QE's MRSIGNER in the generated QE identity.
pub const QE_MRSIGNER: [u8; 32] = [0x8c; 32];
/// The TCB components and PCESVN of generated platforms (matching the `UpToDate` level).
pub const PLATFORM_TCB: ([u8; 16], u16) = ([5, 5, 2, 2, 3, 1, 0, 3, 0, 0, 0, 0, 0, 0, 0, 0], 11);
/// The TCB evaluation data number of generated collateral.
pub const EVALUATION_DATA_NUMBER: u32 = 17;
/// TEE_TCB_SVN of generated TDs (a TDX 1.0 module: byte 1 is 0, so no module identity applies).
pub const TDX_TEE_TCB_SVN: [u8; 16] = [3, 0, 5, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
/// MRSIGNERSEAM of generated TDs and of the TCB info's `tdxModule`.
pub const TDX_MRSIGNER_SEAM: [u8; 48] = [0; 48];

/// One check that generated evidence or collateral must fail.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Break {
    /// The ISV enclave report signature does not verify under the attestation key.
    QuoteSignature,
    /// The QE report signature does not verify under the PCK key.
    QeReportSignature,
    /// The QE report data is not SHA-256(attestation key ‖ QE auth data).
    QeReportData,
    /// The PCK chain ends in a root the verifier does not trust.
    PckChain,
    /// The PCK certificate is listed in the PCK CRL.
    PckRevoked,
    /// The TCB info signature does not verify under the TCB signer.
    TcbInfoSignature,
    /// The QE identity signature does not verify under the TCB signer.
    QeIdentitySignature,
    /// The QE's MRSIGNER differs from the QE identity's.
    QeIdentityMismatch,
    /// The TCB info and QE identity expired ten days ago.
    ExpiredCollateral,
    /// The TCB info names another FMSPC than the PCK certificate.
    FmspcMismatch,
    /// The platform's TCB is below every level of the TCB info.
    TcbNotSupported,
    /// The platform's TCB level is `OutOfDate`.
    OutOfDate,
}

fn der(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut v = vec![tag];
    let len = content.len();
    if len < 0x80 {
        v.push(len as u8);
    } else if len < 0x100 {
        v.extend([0x81, len as u8]);
    } else {
        v.extend([0x82, (len >> 8) as u8, len as u8]);
    }
    v.extend_from_slice(content);
    v
}

fn item(arc: &[u8], value: Vec<u8>) -> Vec<u8> {
    let mut oid = SGX_OID.to_vec();
    oid.extend_from_slice(arc);
    let mut content = der(0x06, &oid);
    content.extend(value);
    der(0x30, &content)
}

fn integer(v: u16) -> Vec<u8> {
    let bytes = v.to_be_bytes();
    let mut content: Vec<u8> = bytes.iter().copied().skip_while(|b| *b == 0).collect();
    if content.first().is_none_or(|b| b & 0x80 != 0) {
        content.insert(0, 0);
    }
    der(0x02, &content)
}

/// The DER of Intel's SGX extension for a platform.
pub fn sgx_extension(fmspc: [u8; 6], components: [u8; 16], pce_svn: u16, cpu_svn: [u8; 16]) -> Vec<u8> {
    let mut tcb = Vec::new();
    for (i, c) in components.iter().enumerate() {
        tcb.extend(item(&[2, i as u8 + 1], integer(u16::from(*c))));
    }
    tcb.extend(item(&[2, 17], integer(pce_svn)));
    tcb.extend(item(&[2, 18], der(0x04, &cpu_svn)));
    let mut content = item(&[1], der(0x04, &[0x11; 16]));
    content.extend(item(&[2], der(0x30, &tcb)));
    content.extend(item(&[3], der(0x04, &[0, 0])));
    content.extend(item(&[4], der(0x04, &fmspc)));
    content.extend(item(&[5], der(0x0a, &[0])));
    der(0x30, &content)
}

fn key() -> KeyPair {
    KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).expect("P-256 key generation")
}

fn ca_params(cn: &str, serial: u64, now: OffsetDateTime) -> CertificateParams {
    let mut p = CertificateParams::default();
    p.distinguished_name.push(DnType::CommonName, cn);
    p.distinguished_name.push(DnType::OrganizationName, "attestd test CA");
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    p.serial_number = Some(SerialNumber::from(serial));
    p.not_before = now - Duration::days(365);
    p.not_after = now + Duration::days(3650);
    p
}

fn raw_signer(k: &KeyPair) -> EcdsaKeyPair {
    EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &k.serialize_der()).expect("PKCS#8 of a P-256 key")
}

fn sign(k: &EcdsaKeyPair, msg: &[u8]) -> Vec<u8> {
    k.sign(&SystemRandom::new(), msg)
        .expect("ECDSA signing")
        .as_ref()
        .to_vec()
}

fn rfc3339(t: OffsetDateTime) -> String {
    t.replace_nanosecond(0)
        .unwrap_or(t)
        .format(&time::format_description::well_known::Rfc3339)
        .expect("RFC 3339")
}

fn crl(issuer: &CertifiedIssuer<'static, KeyPair>, revoked: &[u64], now: OffsetDateTime) -> Vec<u8> {
    let params = CertificateRevocationListParams {
        this_update: now - Duration::days(1),
        next_update: now + Duration::days(30),
        crl_number: SerialNumber::from(1u64),
        issuing_distribution_point: None,
        revoked_certs: revoked
            .iter()
            .map(|s| RevokedCertParams {
                serial_number: SerialNumber::from(*s),
                revocation_time: now - Duration::days(2),
                reason_code: None,
                invalidity_date: None,
            })
            .collect(),
        key_identifier_method: KeyIdMethod::Sha256,
    };
    params.signed_by(issuer).expect("CRL signing").der().to_vec()
}

/// A test root with its PCK Processor CA and TCB signer; creates [`TestPlatform`]s.
pub struct TestCa {
    now: OffsetDateTime,
    root: CertifiedIssuer<'static, KeyPair>,
    pck_ca: CertifiedIssuer<'static, KeyPair>,
    tcb_signer: CertifiedIssuer<'static, KeyPair>,
    tcb_signer_raw: EcdsaKeyPair,
    /// A second, untrusted hierarchy for [`Break::PckChain`].
    rogue_root: CertifiedIssuer<'static, KeyPair>,
    rogue_pck_ca: CertifiedIssuer<'static, KeyPair>,
    next_serial: std::sync::atomic::AtomicU64,
}

/// The trust domain a generated TDX quote describes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrustDomain {
    /// MRTD.
    pub mr_td: [u8; 48],
    /// RTMR0..3.
    pub rtmr: [[u8; 48]; 4],
    /// MRCONFIGID.
    pub mr_config_id: [u8; 48],
    /// Whether TDATTRIBUTES.DEBUG is set.
    pub debug: bool,
    /// REPORTDATA.
    pub report_data: [u8; 64],
}

impl Default for TrustDomain {
    fn default() -> Self {
        TrustDomain {
            mr_td: [0x7d; 48],
            rtmr: [[0x11; 48], [0x22; 48], [0x33; 48], [0; 48]],
            mr_config_id: [0; 48],
            debug: false,
            report_data: [0; 64],
        }
    }
}

impl TrustDomain {
    /// The TD with REPORTDATA = SHA-256(`runtime_data`) ‖ 32 zero bytes.
    pub fn binding(mut self, runtime_data: &[u8]) -> TrustDomain {
        self.report_data = [0; 64];
        self.report_data[..32].copy_from_slice(digest::digest(&digest::SHA256, runtime_data).as_ref());
        self
    }
}

/// One generated platform: its PCK chain, attestation key and collateral bundle.
pub struct TestPlatform {
    /// The FMSPC of the PCK certificate.
    pub fmspc: [u8; 6],
    /// The collateral bundle (dcap-qvl / QvE JSON), as `attestd collateral import` reads it.
    pub bundle: Vec<u8>,
    breaks: Option<Break>,
    chain_pem: String,
    pck_key: EcdsaKeyPair,
    attestation_key: EcdsaKeyPair,
}

impl Default for TestCa {
    fn default() -> Self {
        TestCa::new()
    }
}

impl TestCa {
    /// A new hierarchy valid from a year ago for ten years.
    pub fn new() -> TestCa {
        let now = OffsetDateTime::now_utc();
        let root = CertifiedIssuer::self_signed(ca_params("attestd Test SGX Root CA", 1, now), key()).expect("root");
        let pck_ca = CertifiedIssuer::signed_by(ca_params("attestd Test SGX PCK Processor CA", 2, now), key(), &root)
            .expect("PCK CA");
        let mut signer_params = ca_params("attestd Test SGX TCB Signing", 3, now);
        signer_params.is_ca = IsCa::NoCa;
        signer_params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        let signer_key = key();
        let tcb_signer_raw = raw_signer(&signer_key);
        let tcb_signer = CertifiedIssuer::signed_by(signer_params, signer_key, &root).expect("TCB signer");
        let rogue_root =
            CertifiedIssuer::self_signed(ca_params("attestd Test SGX Root CA", 1, now), key()).expect("rogue root");
        let rogue_pck_ca = CertifiedIssuer::signed_by(
            ca_params("attestd Test SGX PCK Processor CA", 2, now),
            key(),
            &rogue_root,
        )
        .expect("rogue PCK CA");
        TestCa {
            now,
            root,
            pck_ca,
            tcb_signer,
            tcb_signer_raw,
            rogue_root,
            rogue_pck_ca,
            next_serial: std::sync::atomic::AtomicU64::new(1000),
        }
    }

    /// The root certificate, DER.
    pub fn root_der(&self) -> Vec<u8> {
        self.root.der().to_vec()
    }

    /// The root certificate, PEM (for `--insecure-test-sgx-root`).
    pub fn root_pem(&self) -> String {
        self.root.pem()
    }

    /// A platform with `fmspc` whose quotes and collateral fail `breaks` (or nothing).
    pub fn platform(&self, fmspc: [u8; 6], breaks: Option<Break>) -> TestPlatform {
        self.platform_for(false, fmspc, breaks)
    }

    /// A TDX platform (TDX TCB info with its TDX module, TD_QE identity) for [`TestPlatform::td_quote`].
    pub fn tdx_platform(&self, fmspc: [u8; 6], breaks: Option<Break>) -> TestPlatform {
        self.platform_for(true, fmspc, breaks)
    }

    fn platform_for(&self, tdx: bool, fmspc: [u8; 6], breaks: Option<Break>) -> TestPlatform {
        let serial = self.next_serial.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let (mut components, pce_svn) = PLATFORM_TCB;
        match breaks {
            Some(Break::TcbNotSupported) => components = [0; 16],
            Some(Break::OutOfDate) => components[0] = 4,
            _ => {}
        }
        let mut leaf = CertificateParams::default();
        leaf.distinguished_name
            .push(DnType::CommonName, "attestd Test SGX PCK Certificate");
        leaf.serial_number = Some(SerialNumber::from(serial));
        leaf.not_before = self.now - Duration::days(30);
        leaf.not_after = self.now + Duration::days(3650);
        leaf.custom_extensions.push(CustomExtension::from_oid_content(
            &[1, 2, 840, 113741, 1, 13, 1],
            sgx_extension(fmspc, components, pce_svn, components),
        ));
        let pck_key = key();
        let pck_raw = raw_signer(&pck_key);
        let (ca, root) = if breaks == Some(Break::PckChain) {
            (&self.rogue_pck_ca, &self.rogue_root)
        } else {
            (&self.pck_ca, &self.root)
        };
        let leaf = leaf.signed_by(&pck_key, ca).expect("PCK leaf");
        let chain_pem = format!("{}{}{}", leaf.pem(), ca.pem(), root.pem());

        let issue = if breaks == Some(Break::ExpiredCollateral) {
            self.now - Duration::days(40)
        } else {
            self.now - Duration::days(1)
        };
        let next = issue + Duration::days(30);
        let tcb_fmspc = if breaks == Some(Break::FmspcMismatch) {
            [0xee; 6]
        } else {
            fmspc
        };
        let level = |comps: [u8; 16], status: &str, date: &str| {
            let mut tcb = json!({
                "sgxtcbcomponents": comps.iter().map(|c| json!({"svn": c})).collect::<Vec<_>>(),
                "pcesvn": pce_svn,
            });
            if tdx {
                tcb["tdxtcbcomponents"] = json!(TDX_TEE_TCB_SVN.iter().map(|c| json!({"svn": c})).collect::<Vec<_>>());
            }
            json!({"tcb": tcb, "tcbDate": date, "tcbStatus": status})
        };
        let mut old = PLATFORM_TCB.0;
        old[0] = 4;
        let mut tcb_info = json!({
            "id": if tdx { "TDX" } else { "SGX" }, "version": 3, "issueDate": rfc3339(issue), "nextUpdate": rfc3339(next),
            "fmspc": hex::encode_upper(tcb_fmspc), "pceId": "0000", "tcbType": 0,
            "tcbEvaluationDataNumber": EVALUATION_DATA_NUMBER,
            "tcbLevels": [
                level(PLATFORM_TCB.0, "UpToDate", "2025-01-01T00:00:00Z"),
                level(old, "OutOfDate", "2024-01-01T00:00:00Z"),
            ],
        });
        if tdx {
            tcb_info["tdxModule"] = json!({
                "mrsigner": hex::encode_upper(TDX_MRSIGNER_SEAM),
                "attributes": "0000000000000000",
                "attributesMask": "FFFFFFFFFFFFFFFF",
            });
        }
        let tcb_info = tcb_info.to_string();
        let mrsigner = if breaks == Some(Break::QeIdentityMismatch) {
            [0x77; 32]
        } else {
            QE_MRSIGNER
        };
        let qe_identity = json!({
            "id": if tdx { "TD_QE" } else { "QE" }, "version": 2, "issueDate": rfc3339(issue), "nextUpdate": rfc3339(next),
            "tcbEvaluationDataNumber": EVALUATION_DATA_NUMBER,
            "miscselect": "00000000", "miscselectMask": "FFFFFFFF",
            "attributes": "11000000000000000000000000000000",
            "attributesMask": "FBFFFFFFFFFFFFFF0000000000000000",
            "mrsigner": hex::encode_upper(mrsigner), "isvprodid": 1,
            "tcbLevels": [{"tcb": {"isvsvn": 8}, "tcbDate": "2025-01-01T00:00:00Z", "tcbStatus": "UpToDate"}],
        })
        .to_string();
        let mut tcb_sig = sign(&self.tcb_signer_raw, tcb_info.as_bytes());
        if breaks == Some(Break::TcbInfoSignature) {
            tcb_sig[5] ^= 1;
        }
        let mut qe_sig = sign(&self.tcb_signer_raw, qe_identity.as_bytes());
        if breaks == Some(Break::QeIdentitySignature) {
            qe_sig[5] ^= 1;
        }
        let revoked: Vec<u64> = if breaks == Some(Break::PckRevoked) {
            vec![serial]
        } else {
            vec![]
        };
        let signer_chain = format!("{}{}", self.tcb_signer.pem(), self.root.pem());
        let bundle = json!({
            "pck_crl_issuer_chain": format!("{}{}", self.pck_ca.pem(), self.root.pem()),
            "root_ca_crl": hex::encode(crl(&self.root, &[], self.now)),
            "pck_crl": hex::encode(crl(&self.pck_ca, &revoked, self.now)),
            "tcb_info_issuer_chain": signer_chain,
            "tcb_info": tcb_info,
            "tcb_info_signature": hex::encode(tcb_sig),
            "qe_identity_issuer_chain": signer_chain,
            "qe_identity": qe_identity,
            "qe_identity_signature": hex::encode(qe_sig),
        });
        let attestation_key = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).expect("attestation key");
        TestPlatform {
            fmspc,
            bundle: serde_json::to_vec(&bundle).expect("bundle JSON"),
            breaks,
            chain_pem,
            pck_key: pck_raw,
            attestation_key,
        }
    }
}

/// The enclave a generated quote describes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Enclave {
    /// MRENCLAVE.
    pub mr_enclave: [u8; 32],
    /// MRSIGNER.
    pub mr_signer: [u8; 32],
    /// ISVPRODID.
    pub isv_prod_id: u16,
    /// ISVSVN.
    pub isv_svn: u16,
    /// Whether ATTRIBUTES.DEBUG is set.
    pub debug: bool,
    /// REPORTDATA.
    pub report_data: [u8; 64],
}

impl Default for Enclave {
    fn default() -> Self {
        Enclave {
            mr_enclave: [0xe1; 32],
            mr_signer: [0x51; 32],
            isv_prod_id: 3,
            isv_svn: 7,
            debug: false,
            report_data: [0; 64],
        }
    }
}

impl Enclave {
    /// The enclave with REPORTDATA = SHA-256(`runtime_data`) ‖ 32 zero bytes.
    pub fn binding(mut self, runtime_data: &[u8]) -> Enclave {
        self.report_data = [0; 64];
        self.report_data[..32].copy_from_slice(digest::digest(&digest::SHA256, runtime_data).as_ref());
        self
    }
}

fn report(
    cpu_svn: [u8; 16],
    attributes: [u8; 16],
    mr_enclave: [u8; 32],
    mr_signer: [u8; 32],
    prod: u16,
    svn: u16,
    data: &[u8; 64],
) -> Vec<u8> {
    let mut r = vec![0u8; 384];
    r[0..16].copy_from_slice(&cpu_svn);
    r[48..64].copy_from_slice(&attributes);
    r[64..96].copy_from_slice(&mr_enclave);
    r[128..160].copy_from_slice(&mr_signer);
    r[256..258].copy_from_slice(&prod.to_le_bytes());
    r[258..260].copy_from_slice(&svn.to_le_bytes());
    r[320..384].copy_from_slice(data);
    r
}

impl TestPlatform {
    /// An SGX quote v3 of `enclave` on this platform.
    pub fn quote(&self, enclave: &Enclave) -> Vec<u8> {
        let mut header = Vec::with_capacity(48);
        header.extend(3u16.to_le_bytes());
        header.extend(2u16.to_le_bytes());
        header.extend([0u8; 4]);
        header.extend(8u16.to_le_bytes());
        header.extend(PLATFORM_TCB.1.to_le_bytes());
        header.extend(QE_VENDOR_ID);
        header.extend([0u8; 20]);
        let mut attributes = [0u8; 16];
        attributes[0] = if enclave.debug { 0x07 } else { 0x05 };
        attributes[8] = 0x03;
        let body = report(
            PLATFORM_TCB.0,
            attributes,
            enclave.mr_enclave,
            enclave.mr_signer,
            enclave.isv_prod_id,
            enclave.isv_svn,
            &enclave.report_data,
        );
        let mut signed = header.clone();
        signed.extend(&body);
        let mut isv_sig = sign(&self.attestation_key, &signed);
        if self.breaks == Some(Break::QuoteSignature) {
            isv_sig[7] ^= 1;
        }
        self.finish(signed, &isv_sig, false)
    }

    /// A TDX quote v4 of `td` on this (TDX) platform.
    pub fn td_quote(&self, td: &TrustDomain) -> Vec<u8> {
        let mut header = Vec::with_capacity(48);
        header.extend(4u16.to_le_bytes());
        header.extend(2u16.to_le_bytes());
        header.extend(0x81u32.to_le_bytes());
        header.extend([0u8; 4]);
        header.extend(QE_VENDOR_ID);
        header.extend([0u8; 20]);
        let mut body = Vec::with_capacity(584);
        body.extend(TDX_TEE_TCB_SVN);
        body.extend([0x5e_u8; 48]); // MRSEAM
        body.extend(TDX_MRSIGNER_SEAM);
        body.extend([0u8; 8]); // SEAMATTRIBUTES
        let mut td_attributes = [0u8; 8];
        td_attributes[0] = u8::from(td.debug);
        td_attributes[3] = 0x10; // SEPT_VE_DISABLE
        body.extend(td_attributes);
        body.extend([0xe7, 0x02, 0x06, 0, 0, 0, 0, 0]); // XFAM
        body.extend(td.mr_td);
        body.extend(td.mr_config_id);
        body.extend([0u8; 96]); // MROWNER, MROWNERCONFIG
        for r in &td.rtmr {
            body.extend(r);
        }
        body.extend(td.report_data);
        let mut signed = header;
        signed.extend(&body);
        let mut sig = sign(&self.attestation_key, &signed);
        if self.breaks == Some(Break::QuoteSignature) {
            sig[7] ^= 1;
        }
        self.finish(signed, &sig, true)
    }

    /// Appends the signature data: the quote signature, attestation key and the QE's
    /// certification (v3: inline; v4: wrapped in certification data type 6).
    fn finish(&self, mut quote: Vec<u8>, quote_sig: &[u8], v4: bool) -> Vec<u8> {
        let att_key = &self.attestation_key.public_key().as_ref()[1..];
        let auth_data = [0x5a_u8; 32];
        let mut qe_data = [0u8; 64];
        let mut h = att_key.to_vec();
        h.extend(auth_data);
        qe_data[..32].copy_from_slice(digest::digest(&digest::SHA256, &h).as_ref());
        if self.breaks == Some(Break::QeReportData) {
            qe_data[0] ^= 1;
        }
        let mut qe_attributes = [0u8; 16];
        qe_attributes[0] = 0x11;
        let qe_report = report(PLATFORM_TCB.0, qe_attributes, [0x9e; 32], QE_MRSIGNER, 1, 8, &qe_data);
        let mut qe_sig = sign(&self.pck_key, &qe_report);
        if self.breaks == Some(Break::QeReportSignature) {
            qe_sig[7] ^= 1;
        }
        let mut qe_cert = Vec::new();
        qe_cert.extend(&qe_report);
        qe_cert.extend(&qe_sig);
        qe_cert.extend((auth_data.len() as u16).to_le_bytes());
        qe_cert.extend(auth_data);
        qe_cert.extend(5u16.to_le_bytes());
        qe_cert.extend((self.chain_pem.len() as u32).to_le_bytes());
        qe_cert.extend(self.chain_pem.as_bytes());
        let mut sig = Vec::new();
        sig.extend(quote_sig);
        sig.extend(att_key);
        if v4 {
            sig.extend(6u16.to_le_bytes());
            sig.extend((qe_cert.len() as u32).to_le_bytes());
        }
        sig.extend(qe_cert);
        quote.extend((sig.len() as u32).to_le_bytes());
        quote.extend(sig);
        quote
    }
}
