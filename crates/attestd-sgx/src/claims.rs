//! MAA's SgxEnclave / OpenEnclave claims (reference C.4, F.1), checked name for name against
//! MAA's recorded tokens (vectors/azure-sdk).
//!
//! * Token and incoming: `x-ms-sgx-is-debuggable`, `-product-id`, `-mrsigner`, `-mrenclave`,
//!   `-svn`, `-report-data`, `-collateral`, `-tcbidentifier`; `x-ms-sgx-ehd` with its deprecated
//!   copies `aas-ehd` / `maa-ehd` when runtime data is Binary; `x-ms-runtime` / `x-ms-inittime`
//!   when it is JSON; `maa-attestationcollateral` (deprecated copy of `x-ms-sgx-collateral`).
//! * With Key Separation and Sharing (Icelake and later): `x-ms-sgx-config-id`, `-config-svn`,
//!   `-isv-extended-product-id`, `-isv-family-id`.
//! * Incoming only: `x-ms-attestation-type` and the `$`-aliases of the legacy policy language
//!   (`$is-debuggable`, `$product-id`, `$sgx-mrsigner`, `$sgx-mrenclave`, `$svn`, `$tee`,
//!   `$maa-ehd`, `$aas-ehd`, `$maa-attestationcollateral`). The un-prefixed `is-debuggable`,
//!   `sgx-mrsigner`, ... of MAA's tokens are issued by the policies, not the verifier.
//! * attestd extensions (token and incoming): `x-ms-sgx-tcb-status` (Intel's converged TCB
//!   status) and `x-ms-sgx-advisory-ids` (Intel security advisories of the matched TCB levels).

use std::collections::BTreeMap;

use attestd_dcap::quote::EnclaveReport;
use attestd_dcap::verify::Verified;
use attestd_evidence::{Appraisal, ClaimValue};
use base64::Engine;
use serde_json::Value;

/// ATTRIBUTES.KSS (bit 7 of the flags): Key Separation and Sharing is enabled.
const ATTRIBUTE_KSS: u8 = 0x80;

/// What the claims are made from.
#[derive(Debug)]
pub struct ClaimInputs<'a> {
    /// The ISV enclave report of the verified quote.
    pub report: &'a EnclaveReport,
    /// The DCAP verification result.
    pub verified: &'a Verified,
    /// The `x-ms-sgx-collateral` object.
    pub collateral: Value,
    /// The effective `x-ms-sgx-tcbidentifier`.
    pub tcb_identifier: &'a str,
    /// Runtime data sent as Binary (for the ehd claims).
    pub runtime_binary: Option<&'a [u8]>,
    /// Runtime data sent as JSON, parsed.
    pub runtime_json: Option<Value>,
    /// Init-time data sent as JSON, parsed.
    pub init_time_json: Option<Value>,
}

/// Whether the report carries Key Separation and Sharing values.
pub fn has_kss(r: &EnclaveReport) -> bool {
    r.attributes()[0] & ATTRIBUTE_KSS != 0
        || r.config_id().iter().any(|b| *b != 0)
        || r.config_svn() != 0
        || r.isv_ext_prod_id().iter().any(|b| *b != 0)
        || r.isv_family_id().iter().any(|b| *b != 0)
}

/// The appraisal: incoming claims for the policy and the verifier's token claims.
pub fn appraisal(inp: ClaimInputs<'_>) -> Appraisal {
    let r = inp.report;
    let mut token: Vec<(&'static str, ClaimValue)> = vec![
        ("x-ms-sgx-is-debuggable", ClaimValue::from(r.is_debug())),
        ("x-ms-sgx-product-id", ClaimValue::from(i64::from(r.isv_prod_id()))),
        ("x-ms-sgx-mrsigner", ClaimValue::hex(r.mr_signer())),
        ("x-ms-sgx-mrenclave", ClaimValue::hex(r.mr_enclave())),
        ("x-ms-sgx-svn", ClaimValue::from(i64::from(r.isv_svn()))),
        ("x-ms-sgx-report-data", ClaimValue::hex(r.report_data())),
        ("x-ms-sgx-tcbidentifier", ClaimValue::string(inp.tcb_identifier)),
        ("x-ms-sgx-tcb-status", ClaimValue::string(inp.verified.status.as_str())),
    ];
    if let Some(v) = ClaimValue::from_json(Value::from(inp.verified.advisory_ids.clone())) {
        token.push(("x-ms-sgx-advisory-ids", v));
    }
    if let Some(v) = ClaimValue::from_json(inp.collateral.clone()) {
        token.push(("x-ms-sgx-collateral", v.clone()));
        token.push(("maa-attestationcollateral", v));
    }
    if has_kss(r) {
        token.push(("x-ms-sgx-config-id", ClaimValue::hex(r.config_id())));
        token.push(("x-ms-sgx-config-svn", ClaimValue::from(i64::from(r.config_svn()))));
        token.push(("x-ms-sgx-isv-extended-product-id", ClaimValue::hex(r.isv_ext_prod_id())));
        token.push(("x-ms-sgx-isv-family-id", ClaimValue::hex(r.isv_family_id())));
    }
    if let Some(data) = inp.runtime_binary {
        let ehd = ClaimValue::string(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(data));
        token.push(("x-ms-sgx-ehd", ehd.clone()));
        token.push(("aas-ehd", ehd.clone()));
        token.push(("maa-ehd", ehd));
    }
    let bound = [
        ("x-ms-runtime", inp.runtime_json),
        ("x-ms-inittime", inp.init_time_json),
    ];
    for (name, json) in bound {
        if let Some(v) = json.and_then(ClaimValue::from_json) {
            token.push((name, v));
        }
    }

    let mut out = Appraisal::default();
    out.incoming.add("x-ms-attestation-type", "sgx");
    let mut token_claims = BTreeMap::new();
    for (name, value) in &token {
        token_claims.insert((*name).to_owned(), value.to_json());
        out.incoming.add(*name, value.clone());
    }
    // The legacy policy language's names for the same values.
    let aliases = [
        ("$is-debuggable", "x-ms-sgx-is-debuggable"),
        ("$product-id", "x-ms-sgx-product-id"),
        ("$sgx-mrsigner", "x-ms-sgx-mrsigner"),
        ("$sgx-mrenclave", "x-ms-sgx-mrenclave"),
        ("$svn", "x-ms-sgx-svn"),
        ("$maa-ehd", "x-ms-sgx-ehd"),
        ("$aas-ehd", "x-ms-sgx-ehd"),
        ("$maa-attestationcollateral", "x-ms-sgx-collateral"),
    ];
    for (alias, name) in aliases {
        if let Some((_, v)) = token.iter().find(|(n, _)| *n == name) {
            out.incoming.add(alias, v.clone());
        }
    }
    out.incoming.add("$tee", "sgx");
    out.token_claims = token_claims;
    out
}
