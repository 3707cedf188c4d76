//! DCAP collateral from Intel's Provisioning Certification Service (PCS v4) or a PCCS: TCB info,
//! QE identity, PCK CRL and Root CA CRL with their issuer chains, assembled into a bundle,
//! verified, kept in the store and refreshed before its `nextUpdate`.
//!
//! [`PcsCollateral`] is a [`CollateralSource`] over a [`StoreCollateral`]: a bundle in the store
//! (imported or fetched earlier, by any node) that is valid and not yet due for refresh is used as
//! is. Otherwise the four documents are fetched (one flight per platform key, however many
//! attestations wait; requests spaced by a [`RateLimit`]), assembled with
//! `attestd_dcap::Collateral::from_parts`, verified like any bundle (issuer chains to the trust
//! anchors, root CA CRL, signatures, validity) and only then stored. A bundle that fails is
//! neither stored nor used.
//!
//! Refresh rule: a bundle is due when one of its documents (TCB info, QE identity, PCK CRL, root
//! CA CRL) has less than a quarter of its validity window or less than 24 h left, or its earliest
//! certificate expiry is less than 24 h away. A due bundle that is still valid keeps serving while
//! one request refreshes it (the others do not wait); if the refresh fails the old bundle stays in
//! use and the next attempt waits [`PcsConfig::refresh_retry`].

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use attestd_dcap::quote::TeeType;
use attestd_dcap::{Collateral, CollateralParts, PckCa, QuoteVerifier, TrustAnchors};
use attestd_evidence::EvidenceError;
use attestd_sgx::collateral::{ca_name, store_prefix};
use attestd_sgx::{CollateralFuture, CollateralKey, CollateralSource, SgxCollateral};

use crate::{CollateralCache, CollateralError, RateLimit, StoreCollateral};

/// Intel's public PCS.
pub const INTEL_PCS: &str = "https://api.trustedservices.intel.com";
/// Where Intel publishes the SGX Root CA CRL (the root's CRL distribution point); Intel's PCS
/// itself does not serve it.
pub const INTEL_ROOT_CA_CRL: &str = "https://certificates.trustedservices.intel.com/IntelSGXRootCA.der";

/// The TCB info issuer chain header of PCS v4.
pub const TCB_INFO_ISSUER_CHAIN: &str = "TCB-Info-Issuer-Chain";
/// The TCB info issuer chain header of PCS v3 (still sent by some PCCS versions).
pub const SGX_TCB_INFO_ISSUER_CHAIN: &str = "SGX-TCB-Info-Issuer-Chain";
/// The QE identity issuer chain header.
pub const ENCLAVE_IDENTITY_ISSUER_CHAIN: &str = "SGX-Enclave-Identity-Issuer-Chain";
/// The PCK CRL issuer chain header.
pub const PCK_CRL_ISSUER_CHAIN: &str = "SGX-PCK-CRL-Issuer-Chain";

/// Error code: the PCS could not be reached or did not have the collateral (503, retryable).
pub const CODE_UNAVAILABLE: &str = "PcsCollateralUnavailable";
/// Error code: what the PCS served is malformed or fails verification (503: not the attester's
/// fault; nothing of it is kept).
pub const CODE_INVALID: &str = "PcsCollateralInvalid";

/// Verified documents shared by several bundles (QE identity, CRLs) are reused this long.
const ITEM_REUSE: Duration = Duration::from_secs(3600);
const DAY: i64 = 24 * 3600;

/// Where and how fast to fetch.
#[derive(Debug)]
pub struct PcsConfig {
    /// PCS v4 or PCCS base URL, e.g. [`INTEL_PCS`] or `https://pccs.internal:8081`.
    pub base_url: String,
    /// The Root CA CRL's URL; `None`: `{base_url}/sgx/certification/v4/rootcacrl` (PCCS).
    pub root_ca_crl_url: Option<String>,
    /// Spacing of requests to the PCS.
    pub limit: RateLimit,
    /// After a refresh attempt of a still-valid bundle, how long until the next one.
    pub refresh_retry: Duration,
    /// After a failed fetch of a missing bundle, how long requests get the failure before the
    /// next attempt.
    pub miss_retry: Duration,
}

impl PcsConfig {
    /// `base_url` with the defaults: 10 requests a second, refresh retried hourly, misses every
    /// 10 s.
    pub fn new(base_url: &str, root_ca_crl_url: Option<&str>) -> PcsConfig {
        PcsConfig {
            base_url: base_url.trim_end_matches('/').to_owned(),
            root_ca_crl_url: root_ca_crl_url.map(str::to_owned),
            limit: RateLimit::new(Duration::from_millis(100), Duration::from_secs(10)),
            refresh_retry: Duration::from_secs(3600),
            miss_retry: Duration::from_secs(10),
        }
    }
}

fn tee_path(tee: TeeType) -> &'static str {
    match tee {
        TeeType::Sgx => "sgx",
        TeeType::Tdx => "tdx",
    }
}

/// The TCB info URL: `{base}/{sgx|tdx}/certification/v4/tcb?fmspc=<hex>[&tcbEvaluationDataNumber=N]`.
pub fn tcb_info_url(base_url: &str, tee: TeeType, fmspc: [u8; 6], evaluation_data_number: Option<u32>) -> String {
    let mut url = format!(
        "{}/{}/certification/v4/tcb?fmspc={}",
        base_url.trim_end_matches('/'),
        tee_path(tee),
        hex::encode_upper(fmspc)
    );
    if let Some(n) = evaluation_data_number {
        url.push_str(&format!("&tcbEvaluationDataNumber={n}"));
    }
    url
}

/// The QE identity URL: `{base}/{sgx|tdx}/certification/v4/qe/identity[?tcbEvaluationDataNumber=N]`.
pub fn qe_identity_url(base_url: &str, tee: TeeType, evaluation_data_number: Option<u32>) -> String {
    let mut url = format!(
        "{}/{}/certification/v4/qe/identity",
        base_url.trim_end_matches('/'),
        tee_path(tee)
    );
    if let Some(n) = evaluation_data_number {
        url.push_str(&format!("?tcbEvaluationDataNumber={n}"));
    }
    url
}

/// The PCK CRL URL (SGX and TDX alike): `{base}/sgx/certification/v4/pckcrl?ca=<processor|platform>&encoding=der`.
pub fn pck_crl_url(base_url: &str, ca: PckCa) -> String {
    format!(
        "{}/sgx/certification/v4/pckcrl?ca={}&encoding=der",
        base_url.trim_end_matches('/'),
        ca_name(ca)
    )
}

/// PCCS's Root CA CRL URL: `{base}/sgx/certification/v4/rootcacrl`.
pub fn root_ca_crl_url(base_url: &str) -> String {
    format!("{}/sgx/certification/v4/rootcacrl", base_url.trim_end_matches('/'))
}

/// The issuer chain from the first of `names` present in `headers`: URL-encoded PEM (RFC 3986
/// percent-encoding; `+` is a base64 character, not a space), returned as PEM text.
pub fn issuer_chain(headers: &reqwest::header::HeaderMap, names: &[&str]) -> Result<String, String> {
    let (name, value) = names
        .iter()
        .find_map(|n| headers.get(*n).map(|v| (*n, v)))
        .ok_or_else(|| format!("the response has no '{}' header", names.join("' or '")))?;
    decode_issuer_chain(value.as_bytes()).map_err(|e| format!("header '{name}': {e}"))
}

/// URL-encoded PEM (a PCS issuer chain header's value) as PEM text.
pub fn decode_issuer_chain(value: &[u8]) -> Result<String, String> {
    let decoded = percent_decode(value)?;
    let text = String::from_utf8(decoded).map_err(|_| "not UTF-8 once decoded".to_owned())?;
    if !text.trim_start().starts_with("-----BEGIN CERTIFICATE-----") {
        return Err("not a PEM certificate chain".to_owned());
    }
    Ok(text)
}

fn percent_decode(bytes: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%' {
            let hex_digits = bytes
                .get(i + 1..i + 3)
                .ok_or_else(|| format!("a '%' escape at byte {i} is truncated"))?;
            let text = std::str::from_utf8(hex_digits).map_err(|_| format!("bad '%' escape at byte {i}"))?;
            out.push(u8::from_str_radix(text, 16).map_err(|_| format!("bad '%' escape at byte {i}"))?);
            i += 3;
        } else {
            out.push(b);
            i += 1;
        }
    }
    Ok(out)
}

fn unix(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// Whether `c` is due for refresh at `now` (the rule in the module documentation).
pub fn refresh_due(c: &Collateral, now: SystemTime) -> bool {
    let now = unix(now);
    let mut windows = vec![
        (c.tcb_info().issue_date, c.tcb_info().next_update),
        (c.qe_identity().issue_date, c.qe_identity().next_update),
    ];
    for der in [c.pck_crl_der(), c.root_ca_crl_der()] {
        if let Ok((_, crl)) = x509_parser::parse_x509_crl(der)
            && let Some(next) = crl.next_update()
        {
            windows.push((crl.last_update().timestamp(), next.timestamp()));
        }
    }
    let document_due = windows.iter().any(|&(issue, next)| {
        let window = next.saturating_sub(issue).max(0);
        next.saturating_sub(now) < (window / 4).max(DAY)
    });
    document_due || unix(c.next_update()).saturating_sub(now) < DAY
}

fn valid_at(c: &Collateral, now: SystemTime) -> bool {
    c.issue_date() <= now && now < c.next_update()
}

/// One fetched document with the issuer chain from its headers.
#[derive(Debug)]
struct Item {
    body: Vec<u8>,
    chain: Option<String>,
}

#[derive(Debug, Default)]
struct Attempt {
    at: Option<SystemTime>,
    error: Option<(&'static str, String)>,
}

/// DCAP collateral from a PCS / PCCS, kept in the store (see the module documentation).
pub struct PcsCollateral {
    local: Arc<StoreCollateral>,
    cache: Arc<CollateralCache>,
    verifier: QuoteVerifier,
    config: PcsConfig,
    attempts: Mutex<HashMap<String, Attempt>>,
    /// Verified shared documents by URL, with the request time they were fetched at.
    items: Mutex<HashMap<String, (SystemTime, Arc<Item>)>>,
}

impl std::fmt::Debug for PcsCollateral {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PcsCollateral")
            .field("base_url", &self.config.base_url)
            .field("local", &self.local)
            .finish_non_exhaustive()
    }
}

fn unavailable(e: &CollateralError) -> (&'static str, String) {
    (CODE_UNAVAILABLE, format!("DCAP collateral is unavailable: {e}"))
}

impl PcsCollateral {
    /// A source that serves `local` and fetches into it through `cache`, verifying what it
    /// fetches against `anchors` (the same roots the quote verifiers trust).
    pub fn new(
        local: Arc<StoreCollateral>,
        cache: Arc<CollateralCache>,
        anchors: TrustAnchors,
        config: PcsConfig,
    ) -> PcsCollateral {
        PcsCollateral {
            local,
            cache,
            verifier: QuoteVerifier::new(anchors),
            config,
            attempts: Mutex::new(HashMap::new()),
            items: Mutex::new(HashMap::new()),
        }
    }

    async fn get(&self, key: &CollateralKey, now: SystemTime) -> Result<Arc<SgxCollateral>, EvidenceError> {
        let current = self.local.select(key, now).await;
        let usable = match &current {
            Ok(b) if valid_at(b.collateral(), now) => {
                if !refresh_due(b.collateral(), now) {
                    return current;
                }
                Some(Arc::clone(b))
            }
            Ok(_) => None,
            Err(e) if e.code == "CollateralNotFound" || e.code == "TcbBaselineUnavailable" => None,
            Err(_) => return current,
        };
        if !self.cache.is_online() {
            return current;
        }
        let flight = flight_key(key);
        let _turn = match &usable {
            // Others keep using the current bundle while one request refreshes it.
            Some(b) => match self.cache.try_single_flight(&flight) {
                Some(turn) => turn,
                None => return Ok(Arc::clone(b)),
            },
            None => self.cache.single_flight(&flight).await,
        };
        // The flight before ours may have fetched it, or failed moments ago.
        if let Ok(b) = self.local.select(key, now).await
            && valid_at(b.collateral(), now)
            && !refresh_due(b.collateral(), now)
        {
            return Ok(b);
        }
        let retry = if usable.is_some() {
            self.config.refresh_retry
        } else {
            self.config.miss_retry
        };
        if let Some(error) = self.recently_attempted(&flight, now, retry) {
            return match usable {
                Some(b) => Ok(b),
                None => Err(error),
            };
        }
        let result = self.fetch_bundle(key, now).await;
        self.record_attempt(&flight, now, result.as_ref().err().cloned());
        match result {
            Ok(()) => self.local.select(key, now).await,
            Err((code, message)) => {
                tracing::warn!(code, "{message}");
                match usable {
                    Some(b) => Ok(b),
                    None => Err(EvidenceError::collateral_unavailable(code, message)),
                }
            }
        }
    }

    /// The error of an attempt within `retry` before `now`, if there was one (an attempt that
    /// succeeded also counts, as "try again later" without an error).
    fn recently_attempted(&self, flight: &str, now: SystemTime, retry: Duration) -> Option<EvidenceError> {
        let attempts = self.attempts.lock().unwrap_or_else(|e| e.into_inner());
        let a = attempts.get(flight)?;
        let at = a.at?;
        if now.duration_since(at).is_ok_and(|d| d >= retry) {
            return None;
        }
        let (code, message) = a.error.clone().unwrap_or((
            CODE_UNAVAILABLE,
            format!("the PCS was asked for {flight} moments ago without usable collateral"),
        ));
        Some(EvidenceError::collateral_unavailable(code, message))
    }

    fn record_attempt(&self, flight: &str, now: SystemTime, error: Option<(&'static str, String)>) {
        let mut attempts = self.attempts.lock().unwrap_or_else(|e| e.into_inner());
        attempts.insert(flight.to_owned(), Attempt { at: Some(now), error });
    }

    async fn item(&self, url: &str, chain: &[&str], now: SystemTime) -> Result<Arc<Item>, (&'static str, String)> {
        {
            let items = self.items.lock().unwrap_or_else(|e| e.into_inner());
            if let Some((at, item)) = items.get(url)
                && now.duration_since(*at).is_ok_and(|d| d < ITEM_REUSE)
            {
                return Ok(Arc::clone(item));
            }
        }
        let response = self
            .cache
            .fetch_response(url, &self.config.limit)
            .await
            .map_err(|e| unavailable(&e))?;
        let chain = if chain.is_empty() {
            None
        } else {
            Some(issuer_chain(&response.headers, chain).map_err(|e| (CODE_INVALID, format!("{url}: {e}")))?)
        };
        Ok(Arc::new(Item {
            body: response.body,
            chain,
        }))
    }

    async fn fetch_bundle(&self, key: &CollateralKey, now: SystemTime) -> Result<(), (&'static str, String)> {
        let base = &self.config.base_url;
        let n = key.tcb_evaluation_data_number;
        let tcb_url = tcb_info_url(base, key.tee, key.fmspc, n);
        let qe_url = qe_identity_url(base, key.tee, n);
        let crl_url = pck_crl_url(base, key.ca);
        let root_url = self
            .config
            .root_ca_crl_url
            .clone()
            .unwrap_or_else(|| root_ca_crl_url(base));
        let (tcb, qe, crl, root) = tokio::try_join!(
            self.item(&tcb_url, &[TCB_INFO_ISSUER_CHAIN, SGX_TCB_INFO_ISSUER_CHAIN], now),
            self.item(&qe_url, &[ENCLAVE_IDENTITY_ISSUER_CHAIN], now),
            self.item(&crl_url, &[PCK_CRL_ISSUER_CHAIN], now),
            self.item(&root_url, &[], now),
        )?;
        let invalid = |what: String| {
            (
                CODE_INVALID,
                format!("the collateral from {base} for {}: {what}", flight_key(key)),
            )
        };
        let parts = CollateralParts {
            tcb_info: &tcb.body,
            tcb_info_issuer_chain: tcb.chain.as_deref().unwrap_or_default().as_bytes(),
            qe_identity: &qe.body,
            qe_identity_issuer_chain: qe.chain.as_deref().unwrap_or_default().as_bytes(),
            pck_crl: &crl.body,
            pck_crl_issuer_chain: crl.chain.as_deref().unwrap_or_default().as_bytes(),
            root_ca_crl: &root.body,
        };
        let collateral = Collateral::from_parts(parts).map_err(|e| invalid(format!("{}: {}", e.code, e.message)))?;
        let bundle =
            SgxCollateral::from_collateral(collateral).map_err(|e| invalid(format!("{}: {}", e.code, e.message)))?;
        let c = bundle.collateral();
        if c.tee() != key.tee || c.fmspc() != key.fmspc || bundle.pck_ca() != key.ca {
            return Err(invalid(format!(
                "it is for {:?} FMSPC {} (PCK {} CA)",
                c.tee(),
                hex::encode_upper(c.fmspc()),
                ca_name(bundle.pck_ca())
            )));
        }
        if let Some(n) = n
            && c.tcb_evaluation_data_number() != n
        {
            return Err(invalid(format!(
                "TCB evaluation data number {} was asked for, {} served",
                n,
                c.tcb_evaluation_data_number()
            )));
        }
        self.verifier
            .verify_collateral(c, now)
            .map_err(|e| invalid(format!("{}: {}", e.code, e.message)))?;
        // Verified: keep it (store and memory) and the documents other platforms share.
        let store_key = bundle.store_key();
        self.cache
            .put(&store_key, &bundle.to_json(), Some(unix(c.next_update())), unix(now))
            .await
            .map_err(|e| unavailable(&e))?;
        tracing::info!(key = %store_key, "fetched and verified DCAP collateral");
        {
            let mut items = self.items.lock().unwrap_or_else(|e| e.into_inner());
            items.retain(|_, (at, _)| now.duration_since(*at).is_ok_and(|d| d < ITEM_REUSE));
            for (url, item) in [(qe_url, qe), (crl_url, crl), (root_url, root)] {
                items.entry(url).or_insert((now, item));
            }
        }
        self.local.insert(bundle);
        Ok(())
    }
}

/// The single-flight key of one platform's collateral.
fn flight_key(key: &CollateralKey) -> String {
    let mut k = format!(
        "pcs/{}{}/{}",
        store_prefix(key.tee),
        hex::encode_upper(key.fmspc),
        ca_name(key.ca)
    );
    if let Some(n) = key.tcb_evaluation_data_number {
        k.push_str(&format!("/{n}"));
    }
    k
}

impl CollateralSource for PcsCollateral {
    fn collateral<'a>(&'a self, key: &'a CollateralKey, now: SystemTime) -> CollateralFuture<'a> {
        Box::pin(self.get(key, now))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::{HeaderMap, HeaderValue};

    const PEM: &str = "-----BEGIN CERTIFICATE-----\nMIIB+zCC/ab=\n-----END CERTIFICATE-----\n";

    use attestd_testkit::url_encode as encode;

    #[test]
    fn url_encoded_pem_chains_are_decoded_from_the_first_header_present() {
        let mut h = HeaderMap::new();
        let value = encode(&format!("{PEM}{PEM}"));
        assert!(value.contains("%2B") && value.contains("%0A") && value.contains("%2F"));
        h.insert(
            SGX_TCB_INFO_ISSUER_CHAIN,
            HeaderValue::from_str(&value).expect("header"),
        );
        let names = [TCB_INFO_ISSUER_CHAIN, SGX_TCB_INFO_ISSUER_CHAIN];
        assert_eq!(issuer_chain(&h, &names).as_deref(), Ok(format!("{PEM}{PEM}").as_str()));
        // The v4 name wins when both are sent; header names are case-insensitive.
        h.insert(
            "tcb-info-issuer-chain",
            HeaderValue::from_str(&encode(PEM)).expect("header"),
        );
        assert_eq!(issuer_chain(&h, &names).as_deref(), Ok(PEM));
        // A literal '+' is base64, not a space.
        let mut h = HeaderMap::new();
        h.insert(
            PCK_CRL_ISSUER_CHAIN,
            HeaderValue::from_static("-----BEGIN%20CERTIFICATE-----%0AMIIB+zCC%0A"),
        );
        assert!(issuer_chain(&h, &[PCK_CRL_ISSUER_CHAIN]).is_ok_and(|c| c.contains("MIIB+zCC")));
    }

    #[test]
    fn bad_chain_headers_name_the_header() {
        let names = [ENCLAVE_IDENTITY_ISSUER_CHAIN];
        let h = HeaderMap::new();
        assert!(issuer_chain(&h, &names).is_err_and(|e| e.contains(ENCLAVE_IDENTITY_ISSUER_CHAIN)));
        for bad in ["%2", "%zz-----BEGIN", "not%20a%20chain", "%FF%FE"] {
            let mut h = HeaderMap::new();
            h.insert(ENCLAVE_IDENTITY_ISSUER_CHAIN, HeaderValue::from_static(bad));
            let e = issuer_chain(&h, &names);
            assert!(
                e.as_ref().is_err_and(|e| e.contains(ENCLAVE_IDENTITY_ISSUER_CHAIN)),
                "{bad}: {e:?}"
            );
        }
    }

    #[test]
    fn urls_have_the_pcs_v4_shapes() {
        let fmspc = [0x00, 0x90, 0x6e, 0xd5, 0, 0];
        assert_eq!(
            tcb_info_url("https://pcs.example/", TeeType::Sgx, fmspc, None),
            "https://pcs.example/sgx/certification/v4/tcb?fmspc=00906ED50000"
        );
        assert_eq!(
            tcb_info_url("https://pcs.example", TeeType::Tdx, fmspc, Some(17)),
            "https://pcs.example/tdx/certification/v4/tcb?fmspc=00906ED50000&tcbEvaluationDataNumber=17"
        );
        assert_eq!(
            qe_identity_url("https://pcs.example", TeeType::Tdx, None),
            "https://pcs.example/tdx/certification/v4/qe/identity"
        );
        assert_eq!(
            qe_identity_url("https://pcs.example", TeeType::Sgx, Some(18)),
            "https://pcs.example/sgx/certification/v4/qe/identity?tcbEvaluationDataNumber=18"
        );
        assert_eq!(
            pck_crl_url("https://pcs.example", PckCa::Platform),
            "https://pcs.example/sgx/certification/v4/pckcrl?ca=platform&encoding=der"
        );
        assert_eq!(
            root_ca_crl_url("https://pccs:8081/"),
            "https://pccs:8081/sgx/certification/v4/rootcacrl"
        );
    }
}
