//! Where the verifier gets DCAP collateral: the [`CollateralSource`] trait, the bundle type it
//! returns ([`SgxCollateral`]: the collateral, its PCK CA and its `x-ms-sgx-collateral` hashes,
//! computed once) and an in-memory source ([`StaticCollateral`]).

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, RwLock};
use std::time::SystemTime;

use attestd_dcap::quote::TeeType;
use attestd_dcap::{Collateral, PckCa};
use attestd_evidence::EvidenceError;
use serde::Deserialize;
use x509_parser::prelude::FromDer;

use crate::error::{ErrorCode, SgxError};
use crate::hashes::{CollateralHashes, CollateralTexts};

/// What a [`CollateralSource`] is asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct CollateralKey {
    /// SGX or TDX.
    pub tee: TeeType,
    /// The FMSPC of the PCK certificate.
    pub fmspc: [u8; 6],
    /// The CA that issued the PCK certificate (selects the PCK CRL).
    pub ca: PckCa,
    /// The TCB evaluation data number the policy pins (`x-ms-sgx-tcbidentifier`), or `None` for
    /// the newest collateral.
    pub tcb_evaluation_data_number: Option<u32>,
}

impl CollateralKey {
    /// The key under which `attestd collateral import` stores a bundle:
    /// `dcap/<sgx|tdx>/<FMSPC, upper-case hex>/<processor|platform>/<evaluation data number>`.
    pub fn store_key(tee: TeeType, fmspc: [u8; 6], ca: PckCa, tcb_evaluation_data_number: u32) -> String {
        format!(
            "{}{}/{}/{tcb_evaluation_data_number}",
            store_prefix(tee),
            hex::encode_upper(fmspc),
            ca_name(ca)
        )
    }
}

/// The store key prefix of every bundle of `tee`.
pub fn store_prefix(tee: TeeType) -> &'static str {
    match tee {
        TeeType::Sgx => "dcap/sgx/",
        TeeType::Tdx => "dcap/tdx/",
    }
}

/// `processor` or `platform`.
pub fn ca_name(ca: PckCa) -> &'static str {
    match ca {
        PckCa::Processor => "processor",
        PckCa::Platform => "platform",
    }
}

/// One collateral bundle with what the SGX verifier derives from it once.
#[derive(Clone, Debug)]
pub struct SgxCollateral {
    collateral: Collateral,
    pck_ca: PckCa,
    hashes: CollateralHashes,
}

/// The signature fields of a QvE-style JSON bundle, which `Collateral` does not expose.
#[derive(Deserialize)]
struct Signatures {
    tcb_info_signature: String,
    qe_identity_signature: String,
}

fn malformed(message: impl Into<String>) -> EvidenceError {
    SgxError::new(ErrorCode::CollateralBundleMalformed, message).into()
}

fn signature(hex_text: &str, field: &str) -> Result<[u8; 64], EvidenceError> {
    let bytes =
        hex::decode(hex_text.trim()).map_err(|e| malformed(format!("collateral field '{field}' is not hex: {e}")))?;
    bytes
        .try_into()
        .map_err(|b: Vec<u8>| malformed(format!("collateral field '{field}' is {} bytes (64 expected)", b.len())))
}

impl SgxCollateral {
    /// Parses a dcap-qvl / QvE-style JSON bundle (see `attestd_dcap::Collateral::from_json`).
    pub fn from_json(bytes: &[u8]) -> Result<SgxCollateral, EvidenceError> {
        let collateral = Collateral::from_json(bytes)?;
        let sigs: Signatures =
            serde_json::from_slice(bytes).map_err(|e| malformed(format!("collateral bundle: {e}")))?;
        SgxCollateral::new(
            collateral,
            signature(&sigs.tcb_info_signature, "tcb_info_signature")?,
            signature(&sigs.qe_identity_signature, "qe_identity_signature")?,
        )
    }

    /// Wraps parsed collateral; the signatures (r‖s) are those of its TCB info and QE identity,
    /// which MAA's `tcbinfohash` / `qeidhash` cover.
    pub fn new(
        collateral: Collateral,
        tcb_info_signature: [u8; 64],
        qe_identity_signature: [u8; 64],
    ) -> Result<SgxCollateral, EvidenceError> {
        let pck_ca = crl_ca(collateral.pck_crl_der())?;
        let hashes = CollateralHashes::compute(&CollateralTexts {
            tcb_info: collateral.tcb_info_text(),
            tcb_info_signature: &tcb_info_signature,
            tcb_info_issuer_chain: collateral.tcb_info_issuer_chain_pem(),
            qe_identity: collateral.qe_identity_text(),
            qe_identity_signature: &qe_identity_signature,
            qe_identity_issuer_chain: collateral.qe_identity_issuer_chain_pem(),
            root_ca_crl_der: collateral.root_ca_crl_der(),
        });
        Ok(SgxCollateral {
            collateral,
            pck_ca,
            hashes,
        })
    }

    /// Wraps collateral built from raw PCS responses (`Collateral::from_parts`), whose signatures
    /// it carries.
    pub fn from_collateral(collateral: Collateral) -> Result<SgxCollateral, EvidenceError> {
        let (tcb, qe) = (*collateral.tcb_info_signature(), *collateral.qe_identity_signature());
        SgxCollateral::new(collateral, tcb, qe)
    }

    /// The bundle as QvE-style JSON (the form [`SgxCollateral::from_json`] reads and
    /// `attestd collateral import` stores): the signed texts byte-exact, CRLs as hex DER.
    pub fn to_json(&self) -> Vec<u8> {
        let c = &self.collateral;
        serde_json::json!({
            "pck_crl_issuer_chain": c.pck_crl_issuer_chain_pem(),
            "root_ca_crl": hex::encode(c.root_ca_crl_der()),
            "pck_crl": hex::encode(c.pck_crl_der()),
            "tcb_info_issuer_chain": c.tcb_info_issuer_chain_pem(),
            "tcb_info": c.tcb_info_text(),
            "tcb_info_signature": hex::encode(c.tcb_info_signature()),
            "qe_identity_issuer_chain": c.qe_identity_issuer_chain_pem(),
            "qe_identity": c.qe_identity_text(),
            "qe_identity_signature": hex::encode(c.qe_identity_signature()),
        })
        .to_string()
        .into_bytes()
    }

    /// The collateral.
    pub fn collateral(&self) -> &Collateral {
        &self.collateral
    }

    /// The CA whose PCK CRL the bundle carries.
    pub fn pck_ca(&self) -> PckCa {
        self.pck_ca
    }

    /// The `x-ms-sgx-collateral` hashes of the bundle.
    pub fn hashes(&self) -> &CollateralHashes {
        &self.hashes
    }

    /// The key of this bundle in the store.
    pub fn store_key(&self) -> String {
        CollateralKey::store_key(
            self.collateral.tee(),
            self.collateral.fmspc(),
            self.pck_ca,
            self.collateral.tcb_evaluation_data_number(),
        )
    }

    fn valid_at(&self, now: SystemTime) -> bool {
        self.collateral.issue_date() <= now && now < self.collateral.next_update()
    }
}

/// The CA that issued a PCK CRL, from its issuer's common name.
fn crl_ca(der: &[u8]) -> Result<PckCa, EvidenceError> {
    let crl = match x509_parser::revocation_list::CertificateRevocationList::from_der(der) {
        Ok((_, crl)) => crl,
        Err(e) => return Err(malformed(format!("collateral field 'pck_crl' is not a DER CRL: {e}"))),
    };
    let cn = crl
        .issuer()
        .iter_common_name()
        .next()
        .and_then(|a| a.as_str().ok())
        .unwrap_or_default();
    PckCa::from_common_name(cn).ok_or_else(|| {
        malformed(format!(
            "collateral field 'pck_crl' is issued by '{cn}', neither the PCK Processor CA nor the Platform CA"
        ))
    })
}

/// The future a [`CollateralSource`] returns.
pub type CollateralFuture<'a> = Pin<Box<dyn Future<Output = Result<Arc<SgxCollateral>, EvidenceError>> + Send + 'a>>;

/// Supplies DCAP collateral by FMSPC, CA and TCB evaluation data number.
///
/// The collateral is verified like any other (signatures, chains, validity at `now`); a source
/// need not be trusted, only available.
pub trait CollateralSource: Send + Sync + 'static {
    /// The collateral for `key`, the best one for `now` when several exist.
    fn collateral<'a>(&'a self, key: &'a CollateralKey, now: SystemTime) -> CollateralFuture<'a>;
}

type BundleKey = (TeeType, [u8; 6], PckCa);

/// Collateral held in memory, e.g. loaded from bundle files or the store at start.
///
/// Several bundles per FMSPC and CA may be held (one per TCB evaluation data number, or
/// successive issues of the same number). Selection: with a pinned evaluation data number, the
/// bundles of that number; otherwise all. Among them the newest one valid at `now` (highest
/// evaluation data number, then latest issue date); if none is valid, the newest one, so that the
/// verification reports it as expired or not yet valid.
#[derive(Default)]
pub struct StaticCollateral {
    bundles: RwLock<HashMap<BundleKey, Vec<Arc<SgxCollateral>>>>,
}

impl std::fmt::Debug for StaticCollateral {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StaticCollateral")
            .field("bundles", &self.len())
            .finish()
    }
}

impl StaticCollateral {
    /// An empty source.
    pub fn new() -> StaticCollateral {
        StaticCollateral::default()
    }

    /// Adds a bundle; an identical one (same digest) is not added twice.
    pub fn insert(&self, bundle: SgxCollateral) {
        let c = bundle.collateral();
        let key = (c.tee(), c.fmspc(), bundle.pck_ca());
        let mut map = self.bundles.write().unwrap_or_else(|e| e.into_inner());
        let list = map.entry(key).or_default();
        if !list.iter().any(|b| b.collateral().digest() == c.digest()) {
            list.push(Arc::new(bundle));
        }
    }

    /// How many bundles are held.
    pub fn len(&self) -> usize {
        let map = self.bundles.read().unwrap_or_else(|e| e.into_inner());
        map.values().map(Vec::len).sum()
    }

    /// Whether no bundle is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The selection described on the type.
    pub fn select(&self, key: &CollateralKey, now: SystemTime) -> Result<Arc<SgxCollateral>, EvidenceError> {
        let map = self.bundles.read().unwrap_or_else(|e| e.into_inner());
        let fmspc = hex::encode_upper(key.fmspc);
        let Some(all) = map.get(&(key.tee, key.fmspc, key.ca)).filter(|l| !l.is_empty()) else {
            return Err(SgxError::new(
                ErrorCode::CollateralNotFound,
                format!(
                    "no {:?} collateral for FMSPC {fmspc} (PCK {} CA); import it with 'attestd collateral import'",
                    key.tee,
                    ca_name(key.ca)
                ),
            )
            .into());
        };
        let candidates: Vec<&Arc<SgxCollateral>> = match key.tcb_evaluation_data_number {
            None => all.iter().collect(),
            Some(n) => all
                .iter()
                .filter(|b| b.collateral().tcb_evaluation_data_number() == n)
                .collect(),
        };
        let rank = |b: &Arc<SgxCollateral>| {
            let c = b.collateral();
            (c.tcb_evaluation_data_number(), c.issue_date())
        };
        let best = candidates
            .iter()
            .copied()
            .filter(|b| b.valid_at(now))
            .max_by_key(|b| rank(b))
            .or_else(|| candidates.iter().copied().max_by_key(|b| rank(b)));
        match best {
            Some(b) => Ok(Arc::clone(b)),
            None => {
                let mut have: Vec<u32> = all
                    .iter()
                    .map(|b| b.collateral().tcb_evaluation_data_number())
                    .collect();
                have.sort_unstable();
                have.dedup();
                Err(SgxError::new(
                    ErrorCode::TcbBaselineUnavailable,
                    format!(
                        "x-ms-sgx-tcbidentifier selects TCB baseline {} but the collateral for FMSPC {fmspc} has TCB evaluation data numbers {have:?}",
                        key.tcb_evaluation_data_number.unwrap_or_default()
                    ),
                )
                .into())
            }
        }
    }
}

impl CollateralSource for StaticCollateral {
    fn collateral<'a>(&'a self, key: &'a CollateralKey, now: SystemTime) -> CollateralFuture<'a> {
        Box::pin(async move { self.select(key, now) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_keys_name_tee_fmspc_ca_and_number() {
        assert_eq!(
            CollateralKey::store_key(TeeType::Sgx, [0, 0x90, 0x6e, 0xd5, 0, 0], PckCa::Processor, 17),
            "dcap/sgx/00906ED50000/processor/17"
        );
        assert_eq!(
            CollateralKey::store_key(TeeType::Tdx, [0xb0, 0xc0, 0x6f, 0, 0, 0], PckCa::Platform, 18),
            "dcap/tdx/B0C06F000000/platform/18"
        );
    }

    #[test]
    fn an_empty_source_has_nothing() {
        let s = StaticCollateral::new();
        assert!(s.is_empty());
        let key = CollateralKey {
            tee: TeeType::Sgx,
            fmspc: [0; 6],
            ca: PckCa::Platform,
            tcb_evaluation_data_number: None,
        };
        let e = s.select(&key, SystemTime::UNIX_EPOCH).err().map(|e| e.code);
        assert_eq!(e.as_deref(), Some("CollateralNotFound"));
    }

    #[test]
    fn a_bundle_round_trips_through_its_json() {
        let ca = attestd_testkit::dcap::TestCa::new();
        let p = ca.platform([1, 2, 3, 4, 5, 6], None);
        let a = SgxCollateral::from_json(&p.bundle).expect("bundle");
        let b = SgxCollateral::from_json(&a.to_json()).expect("round trip");
        assert_eq!(a.collateral().digest(), b.collateral().digest());
        assert_eq!(a.hashes(), b.hashes());
        let c = SgxCollateral::from_collateral(a.collateral().clone()).expect("from collateral");
        assert_eq!(c.store_key(), a.store_key());
        assert_eq!(c.hashes(), a.hashes());
    }

    #[test]
    fn bad_signature_fields_are_named() {
        assert_eq!(
            signature("zz", "tcb_info_signature")
                .err()
                .map(|e| e.message.contains("tcb_info_signature")),
            Some(true)
        );
        assert_eq!(
            signature("00", "qe_identity_signature")
                .err()
                .map(|e| e.message.contains("1 bytes")),
            Some(true)
        );
    }
}
