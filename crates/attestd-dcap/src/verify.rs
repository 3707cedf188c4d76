//! Quote verification: signatures, PCK chain and CRLs, collateral, TCB level and status.
//!
//! Everything that depends only on the collateral (issuer chains, CRL and document signatures)
//! is checked once per [`Collateral::digest`] and cached; everything that depends only on the
//! PCK chain (chain signatures, SGX extension) once per chain. The QE report signature (the PCK
//! key certifying the QE and, through its report data, the attestation key) is the same for
//! every quote of one attestation key, so each PCK chain also remembers the QE reports it has
//! verified. A warm verification costs the quote signature (one P-256 verify) and two hashes,
//! plus the validity windows, revocation look-ups and TCB matching, which are cheap; a quote from
//! an attestation key not seen before costs the QE report signature as well.

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use aws_lc_rs::digest;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED, ParsedPublicKey};

use crate::collateral::Collateral;
use crate::error::{DcapError, ErrorCode, Result};
use crate::pck::{PckExtension, parse_sgx_extension};
use crate::quote::{Quote, ReportBody, TeeType};
use crate::tcb::{TcbStatus, converge};
use crate::tcb_info::{QeIdentity, TcbInfo, TdxModule, match_identity_level};
use crate::x509::{self, Anchor, CertInfo, ChainCodes, Crl};

/// The roots a PCK chain and the collateral issuer chains must lead to. Roots are trusted by
/// their subject and public key, so every encoding of the same root works.
#[derive(Clone, Debug)]
pub struct TrustAnchors {
    roots: Vec<Vec<u8>>,
}

/// The Intel SGX Root CA (2049 encoding), bundled.
const INTEL_ROOT_DER: &[u8] = include_bytes!("../roots/Intel_SGX_RootCA.der");

impl TrustAnchors {
    /// The bundled Intel SGX Root CA.
    pub fn intel() -> TrustAnchors {
        TrustAnchors {
            roots: vec![INTEL_ROOT_DER.to_vec()],
        }
    }

    /// Other roots, for tests only: a verifier built with these trusts whatever they sign.
    /// Certificates that cannot be parsed as P-256 CA certificates are ignored.
    pub fn insecure_test_roots(ders: Vec<Vec<u8>>) -> TrustAnchors {
        TrustAnchors { roots: ders }
    }
}

/// Which Intel CA issued the PCK certificate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PckCa {
    /// "Intel SGX PCK Processor CA".
    Processor,
    /// "Intel SGX PCK Platform CA".
    Platform,
}

impl PckCa {
    /// The CA an Intel common name (or subject) names, e.g. "Intel SGX PCK Platform CA".
    pub fn from_common_name(cn: &str) -> Option<PckCa> {
        if cn.contains("Processor") {
            Some(PckCa::Processor)
        } else if cn.contains("Platform") {
            Some(PckCa::Platform)
        } else {
            None
        }
    }
}

/// A verified quote's TCB appraisal. Returned for every status but `Revoked`; whether the status
/// is acceptable is the caller's decision (see [`crate::tcb::AcceptedStatuses`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verified {
    /// The converged status (platform, QE, TDX module).
    pub status: TcbStatus,
    /// Advisory IDs of the matched levels (platform, QE, TDX module): union, sorted, deduplicated.
    pub advisory_ids: Vec<String>,
    /// The status of the matched platform TCB level.
    pub platform_status: TcbStatus,
    /// The status of the QE identity's matched TCB level.
    pub qe_status: TcbStatus,
    /// The status of the TDX module identity's matched level (TDX quotes of a module with an
    /// identity, i.e. TEE_TCB_SVN\[1\] > 0).
    pub tdx_module_status: Option<TcbStatus>,
    /// The matched platform level's `tcbDate`.
    pub tcb_date: String,
    /// The TCB info's `tcbEvaluationDataNumber`.
    pub tcb_evaluation_data_number: u32,
    /// The FMSPC of the PCK certificate.
    pub fmspc: [u8; 6],
    /// The PCE ID of the PCK certificate.
    pub pce_id: [u8; 2],
    /// The CA that issued the PCK certificate.
    pub pck_ca: PckCa,
    /// The CPUSVN of the PCK certificate.
    pub cpu_svn: [u8; 16],
    /// The PCESVN of the PCK certificate.
    pub pce_svn: u16,
}

/// How many verified collateral sets are cached (one per FMSPC and TCB evaluation, usually few).
const COLLATERAL_CACHE: usize = 64;
/// How many verified PCK chains are cached (one per platform).
const PCK_CACHE: usize = 4096;
/// How many verified QE reports each PCK chain remembers (one per attestation key: the QE makes
/// a new key when it restarts).
const QE_REPORT_CACHE: usize = 8;

/// A validity window with the codes for both ends.
#[derive(Clone, Debug)]
struct Window {
    what: String,
    not_before: i64,
    not_after: i64,
    expired: ErrorCode,
    not_yet_valid: ErrorCode,
}

impl Window {
    fn cert(info: &CertInfo, what: &str, expired: ErrorCode, not_yet_valid: ErrorCode) -> Window {
        Window {
            what: format!("{what} '{}'", info.name),
            not_before: info.not_before,
            not_after: info.not_after,
            expired,
            not_yet_valid,
        }
    }

    fn document(what: &str, not_before: i64, not_after: i64) -> Window {
        Window {
            what: what.to_owned(),
            not_before,
            not_after,
            expired: ErrorCode::CollateralExpired,
            not_yet_valid: ErrorCode::CollateralNotYetValid,
        }
    }

    fn check(&self, now: i64) -> Result<()> {
        if now < self.not_before {
            return Err(DcapError::new(
                self.not_yet_valid,
                format!("{} is valid from {} only", self.what, rfc3339(self.not_before)),
            ));
        }
        if now > self.not_after {
            return Err(DcapError::new(
                self.expired,
                format!("{} expired at {}", self.what, rfc3339(self.not_after)),
            ));
        }
        Ok(())
    }
}

fn rfc3339(secs: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(secs)
        .ok()
        .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
        .unwrap_or_else(|| secs.to_string())
}

/// Collateral whose chains and signatures were verified.
#[derive(Debug)]
struct CheckedCollateral {
    tcb_info: TcbInfo,
    qe_identity: QeIdentity,
    pck_crl: Crl,
    /// The CA that signed the PCK CRL.
    pck_crl_issuer: CertInfo,
    root_crl: Crl,
    /// Certificates first, then CRLs, then the documents: an expired signer is named as such.
    windows: Vec<Window>,
}

/// A PCK chain whose signatures were verified.
#[derive(Debug)]
struct CheckedPck {
    leaf: CertInfo,
    ca: CertInfo,
    ca_kind: PckCa,
    extension: PckExtension,
    windows: Vec<Window>,
    /// SHA-256(QE report ‖ signature) of QE reports whose signature verified under `leaf`'s key,
    /// with the attestation key they vouch for, parsed. An ECDSA verification is a pure function
    /// of key, message and signature, so a repeated pair needs no second verification; and the
    /// key, whose bytes are compared, need not be decoded again.
    qe_reports: Mutex<Bounded<[u8; 32], Arc<AttestationKey>>>,
}

/// A quote's attestation key (raw x ‖ y), decoded for verifying r ‖ s signatures.
struct AttestationKey {
    raw: [u8; 64],
    key: ParsedPublicKey,
}

impl std::fmt::Debug for AttestationKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AttestationKey({})", hex::encode(self.raw))
    }
}

impl AttestationKey {
    fn parse(raw: &[u8; 64]) -> Result<AttestationKey> {
        let mut point = [0x04u8; 65];
        point[1..].copy_from_slice(raw);
        let key = ParsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, point)
            .map_err(|_| DcapError::new(ErrorCode::QuoteSignatureInvalid, "attestation key is not a P-256 point"))?;
        Ok(AttestationKey { raw: *raw, key })
    }
}

/// A PCK certificate chain verified to a trust anchor (signatures and SGX extension; validity
/// windows and revocation are checked per quote, at the verification time, by
/// [`QuoteVerifier::verify_with`]). From [`QuoteVerifier::pck_chain`], cached per chain.
#[derive(Clone, Debug)]
pub struct PckChain(Arc<CheckedPck>);

impl PckChain {
    /// The FMSPC of the PCK certificate's SGX extension.
    pub fn fmspc(&self) -> [u8; 6] {
        self.0.extension.fmspc
    }

    /// The Intel CA that issued the PCK certificate.
    pub fn ca(&self) -> PckCa {
        self.0.ca_kind
    }
}

/// A map with a size cap; the oldest insertion goes first.
#[derive(Debug)]
struct Bounded<K, V> {
    map: HashMap<K, V>,
    order: VecDeque<K>,
    cap: usize,
}

impl<K: Hash + Eq + Clone, V: Clone> Bounded<K, V> {
    fn new(cap: usize) -> Self {
        Bounded {
            map: HashMap::new(),
            order: VecDeque::new(),
            cap,
        }
    }

    fn get(&self, k: &K) -> Option<V> {
        self.map.get(k).cloned()
    }

    fn insert(&mut self, k: K, v: V) {
        if self.map.insert(k.clone(), v).is_none() {
            self.order.push_back(k);
        }
        while self.map.len() > self.cap {
            match self.order.pop_front() {
                Some(old) => {
                    self.map.remove(&old);
                }
                None => break,
            }
        }
    }
}

/// Verifies quotes against collateral. Built once and shared: it caches verified collateral, PCK
/// chains and QE reports, so a quote from a known attestation key costs one P-256 verification.
#[derive(Debug)]
pub struct QuoteVerifier {
    anchors: Vec<Anchor>,
    collateral: Mutex<Bounded<[u8; 32], Arc<CheckedCollateral>>>,
    pck: Mutex<Bounded<[u8; 32], Arc<CheckedPck>>>,
}

const COLLATERAL_CHAIN: ChainCodes = ChainCodes {
    malformed: ErrorCode::CollateralMalformed,
    invalid: ErrorCode::CollateralChainInvalid,
};
const PCK_CHAIN: ChainCodes = ChainCodes {
    malformed: ErrorCode::MalformedPckChain,
    invalid: ErrorCode::PckChainInvalid,
};

impl QuoteVerifier {
    /// A verifier trusting `anchors`.
    pub fn new(anchors: TrustAnchors) -> QuoteVerifier {
        QuoteVerifier {
            anchors: anchors
                .roots
                .iter()
                .filter_map(|der| x509::parse_anchor(der).ok())
                .collect(),
            collateral: Mutex::new(Bounded::new(COLLATERAL_CACHE)),
            pck: Mutex::new(Bounded::new(PCK_CACHE)),
        }
    }

    /// Verifies `quote` against `collateral` at `now`: every signature, chain, CRL and validity
    /// window, the QE identity, the TCB level (and TDX module), then converges the statuses.
    pub fn verify(&self, quote: &Quote<'_>, collateral: &Collateral, now: SystemTime) -> Result<Verified> {
        let pck = self.pck_chain(quote)?;
        self.verify_with(quote, &pck, collateral, now)
    }

    /// [`QuoteVerifier::verify`] with the quote's PCK chain already verified by
    /// [`QuoteVerifier::pck_chain`] (which the collateral look-up needs first, for the FMSPC).
    pub fn verify_with(
        &self,
        quote: &Quote<'_>,
        pck: &PckChain,
        collateral: &Collateral,
        now: SystemTime,
    ) -> Result<Verified> {
        let pck = &pck.0;
        let now = unix_seconds(now)?;
        let c = self.checked_collateral(collateral)?;
        for w in &c.windows {
            w.check(now)?;
        }
        if c.tcb_info.tee != quote.tee_type() {
            return Err(DcapError::new(
                ErrorCode::TcbInfoMismatch,
                format!(
                    "tcbInfo is for {:?}, the quote is {:?}",
                    c.tcb_info.tee,
                    quote.tee_type()
                ),
            ));
        }
        for w in &pck.windows {
            w.check(now)?;
        }
        check_revocation(&c, pck)?;

        // The QE vouches for the attestation key; the PCK key vouches for the QE.
        let attestation_key = vouched_attestation_key(pck, quote)?;
        if attestation_key
            .key
            .verify_sig(quote.signed_bytes(), quote.signature())
            .is_err()
        {
            return Err(DcapError::new(
                ErrorCode::QuoteSignatureInvalid,
                "quote signature does not verify under the attestation key",
            ));
        }

        let ext = &pck.extension;
        if ext.fmspc != c.tcb_info.fmspc {
            return Err(DcapError::new(
                ErrorCode::FmspcMismatch,
                format!(
                    "PCK FMSPC {} differs from tcbInfo.fmspc {}",
                    hex::encode(ext.fmspc),
                    hex::encode(c.tcb_info.fmspc)
                ),
            ));
        }
        if ext.pce_id != c.tcb_info.pce_id {
            return Err(DcapError::new(
                ErrorCode::PceIdMismatch,
                format!(
                    "PCK PCE-ID {} differs from tcbInfo.pceId {}",
                    hex::encode(ext.pce_id),
                    hex::encode(c.tcb_info.pce_id)
                ),
            ));
        }
        let (qe_status, qe_advisories) = appraise_qe(quote, &c.qe_identity)?;
        let platform = appraise_platform(quote, &c.tcb_info, ext)?;

        let mut status = platform.level_status;
        if let Some(module) = platform.module_status {
            status = converge(status, module);
        }
        status = converge(status, qe_status);
        if status == TcbStatus::Revoked {
            return Err(DcapError::with_status(
                ErrorCode::TcbRevoked,
                status,
                format!(
                    "TCB is revoked (platform {}, QE {}{})",
                    platform.level_status,
                    qe_status,
                    platform
                        .module_status
                        .map(|m| format!(", TDX module {m}"))
                        .unwrap_or_default()
                ),
            ));
        }
        let mut advisory_ids: Vec<String> = platform.advisories.into_iter().chain(qe_advisories).collect();
        advisory_ids.sort();
        advisory_ids.dedup();
        Ok(Verified {
            status,
            advisory_ids,
            platform_status: platform.level_status,
            qe_status,
            tdx_module_status: platform.module_status,
            tcb_date: platform.tcb_date,
            tcb_evaluation_data_number: c.tcb_info.tcb_evaluation_data_number,
            fmspc: ext.fmspc,
            pce_id: ext.pce_id,
            pck_ca: pck.ca_kind,
            cpu_svn: ext.cpu_svn,
            pce_svn: ext.pce_svn,
        })
    }

    /// Verifies `collateral` alone at `now`, without a quote: its issuer chains to the anchors, the
    /// root CA CRL, the TCB info, QE identity and PCK CRL signatures, and every validity window.
    /// For collateral fetched from a PCS before it is kept; the result is cached by digest as for
    /// [`QuoteVerifier::verify`].
    pub fn verify_collateral(&self, collateral: &Collateral, now: SystemTime) -> Result<()> {
        let now = unix_seconds(now)?;
        let c = self.checked_collateral(collateral)?;
        c.windows.iter().try_for_each(|w| w.check(now))
    }

    fn checked_collateral(&self, collateral: &Collateral) -> Result<Arc<CheckedCollateral>> {
        let key = collateral.digest();
        if let Some(hit) = lock(&self.collateral).get(&key) {
            return Ok(hit);
        }
        let checked = Arc::new(self.check_collateral(collateral)?);
        lock(&self.collateral).insert(key, checked.clone());
        Ok(checked)
    }

    fn check_collateral(&self, col: &Collateral) -> Result<CheckedCollateral> {
        let mut cert_windows = Vec::new();
        let root_der = col.root_ca_crl_der();
        // The root CA CRL: signed by one of the anchors.
        let root_crl = self
            .anchors
            .iter()
            .map(|a| x509::verify_crl(root_der, &a.info, "root CA CRL").map(|crl| (crl, a)))
            .find(|r| r.is_ok())
            .unwrap_or_else(|| {
                let first = self.anchors.first().ok_or_else(|| {
                    DcapError::new(
                        ErrorCode::CollateralChainInvalid,
                        "no usable trust anchor is configured",
                    )
                })?;
                x509::verify_crl(root_der, &first.info, "root CA CRL").map(|crl| (crl, first))
            })?;
        let (root_crl, root) = root_crl;

        // Issuer chains: to the anchors, intermediates not on the root CA CRL.
        let mut signer = |pem: &str, what: &str| -> Result<CertInfo> {
            let ders = x509::pem_chain(pem.as_bytes(), what, ErrorCode::CollateralMalformed)?;
            let chain = x509::verify_chain(&ders, &self.anchors, what, COLLATERAL_CHAIN)?;
            for cert in &chain {
                let is_root = cert.subject == root.info.subject && cert.key.point == root.info.key.point;
                if !is_root && root_crl.lists(&cert.serial) {
                    return Err(DcapError::new(
                        ErrorCode::CollateralSignerRevoked,
                        format!("{what}: '{}' is listed in the root CA CRL", cert.name),
                    ));
                }
                cert_windows.push(Window::cert(
                    cert,
                    what,
                    ErrorCode::CollateralCertExpired,
                    ErrorCode::CollateralCertNotYetValid,
                ));
            }
            chain
                .into_iter()
                .next()
                .ok_or_else(|| DcapError::new(ErrorCode::CollateralChainInvalid, format!("{what} is empty")))
        };
        let tcb_signer = signer(col.tcb_info_issuer_chain_pem(), "TCB info issuer chain")?;
        let qe_signer = signer(col.qe_identity_issuer_chain_pem(), "QE identity issuer chain")?;
        let pck_crl_issuer = signer(col.pck_crl_issuer_chain_pem(), "PCK CRL issuer chain")?;

        if !tcb_signer
            .key
            .verify_fixed(col.tcb_info_text().as_bytes(), col.tcb_info_signature())
        {
            return Err(DcapError::new(
                ErrorCode::TcbInfoSignatureInvalid,
                format!("tcbInfo signature does not verify under '{}'", tcb_signer.name),
            ));
        }
        if !qe_signer
            .key
            .verify_fixed(col.qe_identity_text().as_bytes(), col.qe_identity_signature())
        {
            return Err(DcapError::new(
                ErrorCode::QeIdentitySignatureInvalid,
                format!("enclaveIdentity signature does not verify under '{}'", qe_signer.name),
            ));
        }
        let pck_crl = x509::verify_crl(col.pck_crl_der(), &pck_crl_issuer, "PCK CRL")?;
        let tcb_info = col.tcb_info().clone();
        let qe_identity = col.qe_identity().clone();
        let mut windows = cert_windows;
        windows.push(Window::document(
            "root CA CRL",
            root_crl.this_update,
            root_crl.next_update,
        ));
        windows.push(Window::document("PCK CRL", pck_crl.this_update, pck_crl.next_update));
        windows.push(Window::document("tcbInfo", tcb_info.issue_date, tcb_info.next_update));
        windows.push(Window::document(
            "enclaveIdentity",
            qe_identity.issue_date,
            qe_identity.next_update,
        ));
        Ok(CheckedCollateral {
            tcb_info,
            qe_identity,
            pck_crl,
            pck_crl_issuer,
            root_crl,
            windows,
        })
    }

    /// Verifies the quote's PCK chain to the trust anchors (certificate signatures, the PCK CA
    /// kind, the SGX extension), once per chain: cached by the SHA-256 of the PEM as carried, so a
    /// chain seen before is neither decoded nor parsed again.
    pub fn pck_chain(&self, quote: &Quote<'_>) -> Result<PckChain> {
        let key = sha256(&[quote.pck_chain_pem()]);
        if let Some(hit) = lock(&self.pck).get(&key) {
            return Ok(PckChain(hit));
        }
        let checked = Arc::new(self.check_pck(&quote.pck_chain()?)?);
        lock(&self.pck).insert(key, checked.clone());
        Ok(PckChain(checked))
    }

    fn check_pck(&self, ders: &[Vec<u8>]) -> Result<CheckedPck> {
        let chain = x509::verify_chain(ders, &self.anchors, "PCK chain", PCK_CHAIN)?;
        let (Some(leaf), Some(ca)) = (chain.first(), chain.get(1)) else {
            return Err(DcapError::new(
                ErrorCode::PckChainInvalid,
                "PCK chain: the PCK certificate is not issued by a PCK CA",
            ));
        };
        if chain.len() < 3 {
            return Err(DcapError::new(
                ErrorCode::PckChainInvalid,
                "PCK chain: the PCK certificate must be issued by a PCK CA under the root",
            ));
        }
        let ca_kind = PckCa::from_common_name(&ca.name).ok_or_else(|| {
            DcapError::new(
                ErrorCode::PckChainInvalid,
                format!(
                    "PCK chain: issuer '{}' is neither a PCK Processor nor a PCK Platform CA",
                    ca.name
                ),
            )
        })?;
        let value = leaf.sgx_extension.as_deref().ok_or_else(|| {
            DcapError::new(
                ErrorCode::PckExtensionMissing,
                "PCK certificate has no Intel SGX extension (1.2.840.113741.1.13.1)",
            )
        })?;
        let extension = parse_sgx_extension(value)?;
        let windows = chain
            .iter()
            .map(|c| {
                Window::cert(
                    c,
                    "PCK chain certificate",
                    ErrorCode::PckCertExpired,
                    ErrorCode::PckCertNotYetValid,
                )
            })
            .collect();
        Ok(CheckedPck {
            leaf: leaf.clone(),
            ca: ca.clone(),
            ca_kind,
            extension,
            windows,
            qe_reports: Mutex::new(Bounded::new(QE_REPORT_CACHE)),
        })
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic elsewhere cannot leave a cache inconsistent (inserts are single map operations).
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// SHA-256 of the concatenated `parts`.
fn sha256(parts: &[&[u8]]) -> [u8; 32] {
    let mut h = digest::Context::new(&digest::SHA256);
    for p in parts {
        h.update(p);
    }
    let mut out = [0u8; 32];
    out.copy_from_slice(h.finish().as_ref());
    out
}

fn unix_seconds(now: SystemTime) -> Result<i64> {
    now.duration_since(UNIX_EPOCH)
        .ok()
        .and_then(|d| i64::try_from(d.as_secs()).ok())
        .ok_or_else(|| {
            DcapError::new(
                ErrorCode::InvalidVerificationTime,
                "the verification time is before 1970",
            )
        })
}

/// The PCK CRL must come from the PCK's own CA; neither the PCK nor its CA may be revoked.
fn check_revocation(c: &CheckedCollateral, pck: &CheckedPck) -> Result<()> {
    if c.pck_crl_issuer.subject != pck.ca.subject || c.pck_crl_issuer.key.point != pck.ca.key.point {
        return Err(DcapError::new(
            ErrorCode::PckCrlMismatch,
            format!(
                "the PCK CRL is issued by '{}', the PCK by '{}'",
                c.pck_crl_issuer.name, pck.ca.name
            ),
        ));
    }
    if c.root_crl.lists(&pck.ca.serial) {
        return Err(DcapError::new(
            ErrorCode::PckRevoked,
            format!("PCK CA '{}' is listed in the root CA CRL", pck.ca.name),
        ));
    }
    if c.pck_crl.lists(&pck.leaf.serial) {
        return Err(DcapError::new(
            ErrorCode::PckRevoked,
            format!(
                "PCK certificate serial {} is listed in the PCK CRL",
                hex::encode(&pck.leaf.serial)
            ),
        ));
    }
    Ok(())
}

/// The quote's attestation key, after checking that the PCK key signed the QE report and that the
/// QE report data commits to the key. The signature is verified and the key decoded once per
/// (report, signature) and PCK chain (a repeated pair is found in the chain's cache with the key
/// it vouched for); the report data is checked on every quote.
fn vouched_attestation_key(pck: &CheckedPck, quote: &Quote<'_>) -> Result<Arc<AttestationKey>> {
    let report = quote.qe_report().as_bytes();
    let signature = quote.qe_report_signature();
    let cache_key = sha256(&[report, signature]);
    let cached = lock(&pck.qe_reports).get(&cache_key);
    if cached.is_none() && !pck.leaf.key.verify_fixed(report, signature) {
        return Err(DcapError::new(
            ErrorCode::QeReportSignatureInvalid,
            "QE report signature does not verify under the PCK key",
        ));
    }
    check_qe_report_data(quote)?;
    let raw = quote.attestation_key();
    if let Some(k) = cached.filter(|k| k.raw == *raw) {
        return Ok(k);
    }
    let key = Arc::new(AttestationKey::parse(raw)?);
    lock(&pck.qe_reports).insert(cache_key, Arc::clone(&key));
    Ok(key)
}

/// QE report data = SHA-256(attestation key ‖ QE authentication data) ‖ 32 zero bytes.
fn check_qe_report_data(quote: &Quote<'_>) -> Result<()> {
    let expected = sha256(&[quote.attestation_key(), quote.qe_auth_data()]);
    let data = quote.qe_report().report_data();
    let (head, tail) = data.split_at(32);
    if head != expected || tail.iter().any(|b| *b != 0) {
        return Err(DcapError::new(
            ErrorCode::QeReportDataMismatch,
            "QE report data is not SHA-256(attestation key || QE authentication data) followed by zeros",
        ));
    }
    Ok(())
}

/// Matches the QE report against the QE identity; returns the QE TCB status and advisories.
fn appraise_qe(quote: &Quote<'_>, id: &QeIdentity) -> Result<(TcbStatus, Vec<String>)> {
    let expected_id = match quote.tee_type() {
        TeeType::Sgx => "QE",
        TeeType::Tdx => "TD_QE",
    };
    let mismatch = |what: String| Err(DcapError::new(ErrorCode::QeIdentityMismatch, what));
    if id.id != expected_id {
        return mismatch(format!(
            "enclaveIdentity.id is {}, {expected_id} expected for a {:?} quote",
            id.id,
            quote.tee_type()
        ));
    }
    let qe = quote.qe_report();
    if qe.mr_signer() != &id.mr_signer {
        return mismatch(format!(
            "QE MRSIGNER {} differs from enclaveIdentity.mrsigner",
            hex::encode(qe.mr_signer())
        ));
    }
    if qe.isv_prod_id() != id.isv_prod_id {
        return mismatch(format!(
            "QE ISVPRODID {} differs from enclaveIdentity.isvprodid {}",
            qe.isv_prod_id(),
            id.isv_prod_id
        ));
    }
    let masked_eq =
        |have: &[u8], want: &[u8], mask: &[u8]| have.iter().zip(want).zip(mask).all(|((h, w), m)| h & m == w & m);
    if !masked_eq(qe.misc_select_bytes(), &id.miscselect, &id.miscselect_mask) {
        return mismatch(format!(
            "QE MISCSELECT {} does not match enclaveIdentity.miscselect under its mask",
            hex::encode(qe.misc_select_bytes())
        ));
    }
    if !masked_eq(qe.attributes(), &id.attributes, &id.attributes_mask) {
        return mismatch(format!(
            "QE ATTRIBUTES {} do not match enclaveIdentity.attributes under its mask",
            hex::encode(qe.attributes())
        ));
    }
    let level = match_identity_level(&id.levels, qe.isv_svn()).ok_or_else(|| {
        DcapError::new(
            ErrorCode::QeTcbNotSupported,
            format!(
                "QE ISVSVN {} is below every enclaveIdentity.tcbLevels entry",
                qe.isv_svn()
            ),
        )
    })?;
    Ok((level.status, level.advisory_ids.clone()))
}

struct Platform {
    level_status: TcbStatus,
    module_status: Option<TcbStatus>,
    tcb_date: String,
    advisories: Vec<String>,
}

/// Matches the platform TCB level (and, for TDX, the module identity and TCB).
fn appraise_platform(quote: &Quote<'_>, info: &TcbInfo, ext: &PckExtension) -> Result<Platform> {
    let td = match quote.body() {
        ReportBody::Sgx(_) => None,
        ReportBody::Td10(t) => Some(t),
        ReportBody::Td15(t) => Some(t.base()),
    };
    let Some(td) = td else {
        let level = info
            .match_level(&ext.tcb_components, ext.pce_svn, None)
            .ok_or_else(|| no_level(ext, None))?;
        return Ok(Platform {
            level_status: level.status,
            module_status: None,
            tcb_date: level.tcb_date.clone(),
            advisories: level.advisory_ids.clone(),
        });
    };
    let svn = td.tee_tcb_svn();
    let level = info
        .match_level(&ext.tcb_components, ext.pce_svn, Some(svn))
        .ok_or_else(|| no_level(ext, Some(svn)))?;
    // A TD 1.5 also reports its current TCB (after TD-preserving module updates); like Intel's
    // QVL, it must be appraisable too.
    if let Some(td15) = quote.body().as_td15() {
        let current = td15.tee_tcb_svn2();
        if info
            .match_level(&ext.tcb_components, ext.pce_svn, Some(current))
            .is_none()
        {
            return Err(no_level(ext, Some(current)));
        }
    }
    let mut advisories = level.advisory_ids.clone();
    let module_status = appraise_module(td, info, &mut advisories)?;
    Ok(Platform {
        level_status: level.status,
        module_status,
        tcb_date: level.tcb_date.clone(),
        advisories,
    })
}

fn no_level(ext: &PckExtension, tee_tcb_svn: Option<&[u8; 16]>) -> DcapError {
    DcapError::new(
        ErrorCode::TcbLevelNotSupported,
        format!(
            "no tcbInfo.tcbLevels entry is met by PCK components {}, PCESVN {}{}",
            hex::encode(ext.tcb_components),
            ext.pce_svn,
            tee_tcb_svn
                .map(|s| format!(", TEE_TCB_SVN {}", hex::encode(s)))
                .unwrap_or_default()
        ),
    )
}

/// The SEAM module must be the one the TCB info names (MRSIGNERSEAM, SEAMATTRIBUTES under the
/// mask; bits outside the mask must be zero); a module with an identity gets its TCB status.
fn appraise_module(
    td: &crate::quote::TdReport10,
    info: &TcbInfo,
    advisories: &mut Vec<String>,
) -> Result<Option<TcbStatus>> {
    let svn = td.tee_tcb_svn();
    let identity = info.tdx_module_identity(svn)?;
    let expected: &TdxModule = match (identity, &info.tdx_module) {
        (Some(id), _) => id,
        (None, Some(base)) => base,
        (None, None) => {
            return Err(DcapError::new(
                ErrorCode::TcbInfoMalformed,
                "tcbInfo.tdxModule is missing",
            ));
        }
    };
    let mismatch = |what: String| Err(DcapError::new(ErrorCode::TdxModuleMismatch, what));
    if td.mr_signer_seam() != &expected.mr_signer {
        return mismatch(format!(
            "MRSIGNERSEAM {} differs from the TDX module identity's mrsigner",
            hex::encode(td.mr_signer_seam())
        ));
    }
    for ((have, want), mask) in td
        .seam_attributes()
        .iter()
        .zip(&expected.attributes)
        .zip(&expected.attributes_mask)
    {
        if have & mask != want & mask || have & !mask != 0 {
            return mismatch(format!(
                "SEAMATTRIBUTES {} do not match the TDX module identity",
                hex::encode(td.seam_attributes())
            ));
        }
    }
    let Some(identity) = identity else {
        return Ok(None);
    };
    let module_svn = u16::from(svn[0]);
    let level = match_identity_level(&identity.levels, module_svn).ok_or_else(|| {
        DcapError::new(
            ErrorCode::TdxModuleTcbNotSupported,
            format!(
                "TDX module ISVSVN {module_svn} is below every {}.tcbLevels entry",
                identity.id
            ),
        )
    })?;
    advisories.extend(level.advisory_ids.iter().cloned());
    Ok(Some(level.status))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_names_name_the_pck_ca() {
        assert_eq!(
            PckCa::from_common_name("Intel SGX PCK Processor CA"),
            Some(PckCa::Processor)
        );
        assert_eq!(
            PckCa::from_common_name("Intel SGX PCK Platform CA"),
            Some(PckCa::Platform)
        );
        assert_eq!(PckCa::from_common_name("Intel SGX Root CA"), None);
    }
}
