//! MAA's TdxVm claims (reference C.5.2; Microsoft's TDX EAT profile).
//!
//! Token and incoming: `tdx_mrtd`, `tdx_mrconfigid`, `tdx_mrowner`, `tdx_mrownerconfig`,
//! `tdx_mrseam`, `tdx_mrsignerseam`, `tdx_rtmr0`..`tdx_rtmr3` (96 hex), `tdx_report_data` (128 hex),
//! `tdx_seam_attributes`, `tdx_td_attributes`, `tdx_xfam` (16 hex), `tdx_tee_tcb_svn` (32 hex),
//! `tdx_seamsvn` (TEE_TCB_SVN\[0\], the TDX module's SVN), the `tdx_td_attributes_*` flags,
//! `attester_tcb_status` (Intel's converged status), `dbgstat`, `eat_profile`, `intuse`, and
//! `x-ms-runtime` / `x-ms-inittime` for JSON data. Incoming only: `x-ms-attestation-type`.
//!
//! attestd extensions: `attester_advisory_ids` (Intel advisories of the matched levels),
//! `tdx_tee_tcb_svn2` (TD 1.5 quotes). `x-ms-compliance-status` is Azure's own judgement of its
//! fleet and is not issued.

use attestd_dcap::quote::TdReport10;
use attestd_dcap::verify::Verified;
use attestd_evidence::{Appraisal, ClaimValue};
use serde_json::Value;

/// MAA's EAT profile URI for TDX VMs.
pub const EAT_PROFILE: &str = "https://aka.ms/maa-eat-profile-tdxvm";

/// What the claims are made from.
#[derive(Debug)]
pub struct ClaimInputs<'a> {
    /// The TD report of the verified quote.
    pub report: &'a TdReport10,
    /// TEE_TCB_SVN2 of a TD 1.5 report.
    pub tee_tcb_svn2: Option<[u8; 16]>,
    /// The DCAP verification result.
    pub verified: &'a Verified,
    /// Runtime data sent as JSON, parsed.
    pub runtime_json: Option<Value>,
    /// Init-time data sent as JSON, parsed.
    pub init_time_json: Option<Value>,
}

/// A bit of the little-endian 64-bit TD attributes.
fn td_attribute(attributes: &[u8; 8], bit: u32) -> bool {
    u64::from_le_bytes(*attributes) & (1 << bit) != 0
}

/// The appraisal: incoming claims for the policy and the verifier's token claims.
pub fn appraisal(inp: ClaimInputs<'_>) -> Appraisal {
    let r = inp.report;
    let attrs = r.td_attributes();
    let debug = td_attribute(attrs, 0);
    let rtmr = r.rtmr();
    let mut claims: Vec<(&'static str, ClaimValue)> = vec![
        ("attester_tcb_status", ClaimValue::string(inp.verified.status.as_str())),
        (
            "dbgstat",
            ClaimValue::string(if debug { "enabled" } else { "disabled" }),
        ),
        ("eat_profile", ClaimValue::string(EAT_PROFILE)),
        ("intuse", ClaimValue::string("generic")),
        ("tdx_mrconfigid", ClaimValue::hex(r.mr_config_id())),
        ("tdx_mrowner", ClaimValue::hex(r.mr_owner())),
        ("tdx_mrownerconfig", ClaimValue::hex(r.mr_owner_config())),
        ("tdx_mrseam", ClaimValue::hex(r.mr_seam())),
        ("tdx_mrsignerseam", ClaimValue::hex(r.mr_signer_seam())),
        ("tdx_mrtd", ClaimValue::hex(r.mr_td())),
        ("tdx_report_data", ClaimValue::hex(r.report_data())),
        ("tdx_rtmr0", ClaimValue::hex(&rtmr[0])),
        ("tdx_rtmr1", ClaimValue::hex(&rtmr[1])),
        ("tdx_rtmr2", ClaimValue::hex(&rtmr[2])),
        ("tdx_rtmr3", ClaimValue::hex(&rtmr[3])),
        ("tdx_seam_attributes", ClaimValue::hex(r.seam_attributes())),
        ("tdx_seamsvn", ClaimValue::from(i64::from(r.tee_tcb_svn()[0]))),
        ("tdx_td_attributes", ClaimValue::hex(attrs)),
        ("tdx_td_attributes_debug", ClaimValue::from(debug)),
        (
            "tdx_td_attributes_key_locker",
            ClaimValue::from(td_attribute(attrs, 31)),
        ),
        ("tdx_td_attributes_perfmon", ClaimValue::from(td_attribute(attrs, 63))),
        (
            "tdx_td_attributes_protection_keys",
            ClaimValue::from(td_attribute(attrs, 30)),
        ),
        (
            "tdx_td_attributes_septve_disable",
            ClaimValue::from(td_attribute(attrs, 28)),
        ),
        ("tdx_tee_tcb_svn", ClaimValue::hex(r.tee_tcb_svn())),
        ("tdx_xfam", ClaimValue::hex(r.xfam())),
    ];
    if let Some(svn2) = inp.tee_tcb_svn2 {
        claims.push(("tdx_tee_tcb_svn2", ClaimValue::hex(&svn2)));
    }
    if let Some(v) = ClaimValue::from_json(Value::from(inp.verified.advisory_ids.clone())) {
        claims.push(("attester_advisory_ids", v));
    }
    for (name, json) in [
        ("x-ms-runtime", inp.runtime_json),
        ("x-ms-inittime", inp.init_time_json),
    ] {
        if let Some(v) = json.and_then(ClaimValue::from_json) {
            claims.push((name, v));
        }
    }

    let mut out = Appraisal::default();
    out.incoming.add("x-ms-attestation-type", "tdxvm");
    for (name, value) in claims {
        out.token_claims.insert(name.to_owned(), value.to_json());
        out.incoming.add(name, value);
    }
    out
}
