//! Differential test against Phala's `dcap-qvl` as an independent oracle: the same verdict and
//! TCB status on every catalog quote and on 2,400 deterministic mutations of them (1,152 of
//! the twelve TDX cases).
//!
//! Where the two disagree by design, attestd follows Intel's QVL and the difference is one of
//! these classes, each checked for what it claims (anything else fails the test):
//!
//! * `debug`: dcap-qvl refuses debug enclaves and TDs outright; attestd (like MAA and Intel's
//!   QVL) verifies them and reports `x-ms-sgx-is-debuggable` / `tdx_td_attributes_debug` for the
//!   policy to decide.
//! * `tcb-info-v2`: dcap-qvl cannot read version 2 TCB info (no `sgxtcbcomponents`); Intel's QVL
//!   and attestd can.
//! * `mr-service-td`: dcap-qvl refuses TD 1.5 quotes with a non-zero MRSERVICETD; Intel's QVL
//!   does not (automata's on-chain verifier accepts TDX-ADA-2, see the catalog).
//! * `pck-chain`: a mutation inside the quote's PCK certificate chain that dcap-qvl survives
//!   because its path builder may take the PCK CA from the collateral's CRL issuer chain and its
//!   PEM reader skips damaged framing; attestd, like Intel's QVL, verifies the chain the quote
//!   carries, so a damaged certificate or PEM marker there is `PckChainInvalid` /
//!   `MalformedPckChain`.
//! * `unsigned-framing`: a mutation of the signature data's own framing, which no signature
//!   covers (the signature data length, the certification data type): dcap-qvl ignores a length
//!   that overruns into the padding and a certification data type other than 6; attestd, like
//!   Intel's QVL, requires the declared lengths to account for every byte and the type to be the
//!   one the quote version defines.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::UNIX_EPOCH;

use attestd_dcap::quote::Quote;
use attestd_dcap::{Collateral, QuoteVerifier, TrustAnchors};
use common::{Case, cases};

/// A verdict: the TCB status, or a rejection.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Verdict {
    Status(String),
    Rejected(String),
}

fn ours(v: &QuoteVerifier, quote: &[u8], c: &Collateral, case: &Case) -> Verdict {
    let parsed = match Quote::parse(quote) {
        Ok(q) => q,
        Err(e) => return Verdict::Rejected(e.code().to_owned()),
    };
    match v.verify(&parsed, c, case.time) {
        Ok(r) => Verdict::Status(r.status.as_str().to_owned()),
        Err(e) => Verdict::Rejected(e.code().to_owned()),
    }
}

fn oracle_collateral(c: &Collateral) -> dcap_qvl::QuoteCollateralV3 {
    dcap_qvl::QuoteCollateralV3 {
        pck_crl_issuer_chain: c.pck_crl_issuer_chain_pem().to_owned(),
        root_ca_crl: c.root_ca_crl_der().to_vec(),
        pck_crl: c.pck_crl_der().to_vec(),
        tcb_info_issuer_chain: c.tcb_info_issuer_chain_pem().to_owned(),
        tcb_info: c.tcb_info_text().to_owned(),
        tcb_info_signature: c.tcb_info_signature().to_vec(),
        qe_identity_issuer_chain: c.qe_identity_issuer_chain_pem().to_owned(),
        qe_identity: c.qe_identity_text().to_owned(),
        qe_identity_signature: c.qe_identity_signature().to_vec(),
        pck_certificate_chain: None,
    }
}

fn oracle(quote: &[u8], c: &dcap_qvl::QuoteCollateralV3, case: &Case) -> Verdict {
    let now = case.time.duration_since(UNIX_EPOCH).unwrap().as_secs();
    // dcap-qvl reports Revoked as a status; attestd rejects it (TcbRevoked).
    match dcap_qvl::verify::verify(quote, c, now) {
        Ok(r) if r.status == "Revoked" => Verdict::Rejected("TcbRevoked".into()),
        Ok(r) => Verdict::Status(r.status),
        Err(e) => Verdict::Rejected(format!("{e:#}")),
    }
}

/// The class of a known, by-design difference (see the module docs), or `None`.
fn known_difference(
    case: &Case,
    quote: &[u8],
    mutated_at: Option<usize>,
    a: &Verdict,
    b: &Verdict,
) -> Option<&'static str> {
    let parsed = Quote::parse(quote).ok();
    match (a, b) {
        (Verdict::Status(_), Verdict::Rejected(why)) if why.contains("Debug mode is enabled") => {
            let body = parsed.as_ref().map(|q| *q.body());
            let debug = body.is_some_and(|b| {
                b.as_sgx()
                    .map_or_else(|| b.as_td().is_some_and(|t| t.is_debug()), |r| r.is_debug())
            });
            debug.then_some("debug")
        }
        (Verdict::Status(_), Verdict::Rejected(why)) if why.contains("Failed to decode TcbInfo") => {
            (case.collateral.tcb_info().version == 2).then_some("tcb-info-v2")
        }
        (Verdict::Rejected(_), Verdict::Rejected(why)) if why.contains("Failed to decode TcbInfo") => {
            (case.collateral.tcb_info().version == 2).then_some("tcb-info-v2")
        }
        (Verdict::Status(_), Verdict::Rejected(why)) if why.contains("Invalid MR service TD") => {
            let td15 = parsed
                .as_ref()
                .and_then(|q| q.body().as_td15().map(|b| b.mr_service_td().iter().any(|x| *x != 0)));
            td15.unwrap_or(false).then_some("mr-service-td")
        }
        (Verdict::Rejected(code), Verdict::Status(_))
            if code == "MalformedSignatureData" || code == "UnsupportedCertificationDataType" =>
        {
            let signed = Quote::parse(&case.quote).ok()?.signed_bytes().len();
            let pem_start = case.quote.windows(11).position(|w| w == b"-----BEGIN ")?;
            mutated_at
                .is_some_and(|at| at >= signed && at < pem_start)
                .then_some("unsigned-framing")
        }
        (Verdict::Rejected(code), Verdict::Status(_)) if code == "PckChainInvalid" || code == "MalformedPckChain" => {
            let pem_start = case.quote.windows(11).position(|w| w == b"-----BEGIN ")?;
            mutated_at.is_some_and(|at| at >= pem_start).then_some("pck-chain")
        }
        _ => None,
    }
}

fn same(a: &Verdict, b: &Verdict) -> bool {
    match (a, b) {
        (Verdict::Status(x), Verdict::Status(y)) => x == y,
        (Verdict::Rejected(_), Verdict::Rejected(_)) => true,
        _ => false,
    }
}

/// xorshift64*: deterministic, so a failure names a reproducible mutation.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % n as u64).unwrap()
    }
}

#[test]
fn catalog_quotes_get_dcap_qvls_verdicts() {
    let verifier = QuoteVerifier::new(TrustAnchors::intel());
    let mut disagreements = Vec::new();
    for case in cases() {
        let a = ours(&verifier, &case.quote, &case.collateral, &case);
        let b = oracle(&case.quote, &oracle_collateral(&case.collateral), &case);
        println!("{}: attestd {a:?}, dcap-qvl {b:?}", case.id);
        if !same(&a, &b) {
            match known_difference(&case, &case.quote, None, &a, &b) {
                Some(class) => println!("  known difference: {class}"),
                None => disagreements.push(format!("{}: attestd {a:?}, dcap-qvl {b:?}", case.id)),
            }
        }
    }
    assert!(disagreements.is_empty(), "{disagreements:#?}");
}

#[test]
fn mutated_quotes_get_dcap_qvls_verdicts() {
    const PER_CASE: usize = 96;
    let verifier = QuoteVerifier::new(TrustAnchors::intel());
    let mut rng = Rng(0x5eed_a77e_57d0_0001);
    let mut disagreements = Vec::new();
    let mut total = 0;
    let mut tdx = 0;
    let mut accepted = 0;
    let mut known = std::collections::BTreeMap::new();
    for case in cases() {
        let collateral = oracle_collateral(&case.collateral);
        for i in 0..PER_CASE {
            let mut q = case.quote.clone();
            let (what, mutated_at) = match i % 4 {
                // A bit anywhere (header, body, signature data, certification data, padding).
                0 | 1 => {
                    let at = rng.below(q.len());
                    let bit = rng.below(8);
                    q[at] ^= 1 << bit;
                    (format!("bit {bit} of byte {at}"), Some(at))
                }
                // A bit in the first 1,024 bytes: header, report body and the signature.
                2 => {
                    let at = rng.below(q.len().min(1024));
                    q[at] ^= 1 << rng.below(8);
                    (format!("byte {at} (head)"), Some(at))
                }
                // Truncation.
                _ => {
                    let len = rng.below(q.len());
                    q.truncate(len);
                    (format!("truncated to {len}"), None)
                }
            };
            total += 1;
            if case.id.starts_with("TDX") {
                tdx += 1;
            }
            let a = ours(&verifier, &q, &case.collateral, &case);
            let b = oracle(&q, &collateral, &case);
            if matches!(a, Verdict::Status(_)) {
                accepted += 1;
            }
            if !same(&a, &b) {
                match known_difference(&case, &q, mutated_at, &a, &b) {
                    Some(class) => *known.entry(class).or_insert(0) += 1,
                    None => disagreements.push(format!("{} {what}: attestd {a:?}, dcap-qvl {b:?}", case.id)),
                }
            }
        }
    }
    println!("{total} mutations, {accepted} verified by attestd; known differences {known:?}");
    assert!(total >= 2000 && tdx >= 1000, "{total} mutations, {tdx} of TDX quotes");
    assert!(
        disagreements.is_empty(),
        "{} of {total} disagree: {disagreements:#?}",
        disagreements.len()
    );
}
