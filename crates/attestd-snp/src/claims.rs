//! MAA's SevSnpVm claims (reference C.5.1 and F.2): digests and identifiers as lower-case hex,
//! SVNs as integers, policy bits as Booleans. The same names are offered to the policy (incoming)
//! and carried by the token.

use std::collections::BTreeMap;

use attestd_evidence::{Appraisal, ClaimValue};

use crate::verifier::VerifiedReport;

/// The claims of a verified report, sorted by name.
pub fn report_claims(v: &VerifiedReport) -> Vec<(&'static str, ClaimValue)> {
    let r = &v.report();
    let tcb = v.reported_tcb();
    let mut claims = vec![
        ("x-ms-sevsnpvm-authorkeydigest", ClaimValue::hex(&r.author_key_digest)),
        ("x-ms-sevsnpvm-bootloader-svn", ClaimValue::from(tcb.bootloader)),
        ("x-ms-sevsnpvm-familyId", ClaimValue::hex(&r.family_id)),
        ("x-ms-sevsnpvm-guestsvn", ClaimValue::from(r.guest_svn)),
        ("x-ms-sevsnpvm-hostdata", ClaimValue::hex(&r.host_data)),
        ("x-ms-sevsnpvm-idkeydigest", ClaimValue::hex(&r.id_key_digest)),
        ("x-ms-sevsnpvm-imageId", ClaimValue::hex(&r.image_id)),
        (
            "x-ms-sevsnpvm-is-debuggable",
            ClaimValue::from(r.policy.debug_allowed()),
        ),
        ("x-ms-sevsnpvm-launchmeasurement", ClaimValue::hex(&r.measurement)),
        ("x-ms-sevsnpvm-microcode-svn", ClaimValue::from(tcb.microcode)),
        (
            "x-ms-sevsnpvm-migration-allowed",
            ClaimValue::from(r.policy.migrate_ma_allowed()),
        ),
        ("x-ms-sevsnpvm-reportdata", ClaimValue::hex(&r.report_data)),
        ("x-ms-sevsnpvm-reportid", ClaimValue::hex(&r.report_id)),
        ("x-ms-sevsnpvm-smt-allowed", ClaimValue::from(r.policy.smt_allowed())),
        ("x-ms-sevsnpvm-snpfw-svn", ClaimValue::from(tcb.snp)),
        ("x-ms-sevsnpvm-tee-svn", ClaimValue::from(tcb.tee)),
        ("x-ms-sevsnpvm-vmpl", ClaimValue::from(r.vmpl)),
    ];
    claims.sort_by_key(|(name, _)| *name);
    claims
}

/// The appraisal of a verified report: its claims, plus `x-ms-runtime` / `x-ms-inittime` for
/// bound data sent as JSON. The policy also sees `x-ms-attestation-type`; the service adds that
/// claim to the token itself.
pub fn appraisal(
    v: &VerifiedReport,
    runtime_json: Option<serde_json::Value>,
    init_time_json: Option<serde_json::Value>,
) -> Appraisal {
    let mut out = Appraisal::default();
    out.incoming.add("x-ms-attestation-type", "sevsnpvm");
    let bound = [("x-ms-runtime", runtime_json), ("x-ms-inittime", init_time_json)]
        .into_iter()
        .filter_map(|(name, json)| Some((name, ClaimValue::from_json(json?)?)));
    let mut token = BTreeMap::new();
    for (name, value) in report_claims(v).into_iter().chain(bound) {
        token.insert(name.to_owned(), value.to_json());
        out.incoming.add(name, value);
    }
    out.token_claims = token;
    out
}
