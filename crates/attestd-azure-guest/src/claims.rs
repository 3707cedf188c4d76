//! MAA's `azurevm` claims (reference C.5.3) for a verified CVM guest: the hardware report's
//! claims under `x-ms-isolation-tee`, the quoted PCRs, and what the HCL runtime data states about
//! the VM.

use std::collections::BTreeMap;

use attestd_evidence::{Appraisal, Attester, ClaimValue};
use serde_json::{Map, Value, json};

use crate::{HardwareEvidence, VerifiedGuest};

/// The appraisal of a verified `AttestationInfo`: [`appraisal`]'s claims, the OS identity
/// (`x-ms-azurevm-osbuild`, `-osdistro`, `-ostype`, `-osversion-major`, `-osversion-minor`,
/// `-is-windows`), and `x-ms-runtime` = `{"client-payload": ClientPayload, "keys": [the certified
/// encryption key as JWK "TpmEphemeralEncryptionKey"]}`, and the boot-configuration claims of
/// `TcgLogs` ([`crate::tcglog`]).
pub fn info_appraisal(v: &crate::VerifiedInfo) -> Appraisal {
    let mut out = appraisal(&v.guest);
    let info = &v.info;
    let mut extra: Vec<(&'static str, Value)> = Vec::new();
    for (name, value) in [
        ("x-ms-azurevm-osbuild", &info.os_build),
        ("x-ms-azurevm-osdistro", &info.os_distro),
        ("x-ms-azurevm-ostype", &info.os_type),
    ] {
        if let Some(v) = value {
            extra.push((name, json!(v)));
        }
    }
    if let Some(t) = &info.os_type {
        extra.push(("x-ms-azurevm-is-windows", json!(t.eq_ignore_ascii_case("windows"))));
    }
    for (name, value) in [
        ("x-ms-azurevm-osversion-major", info.os_version_major),
        ("x-ms-azurevm-osversion-minor", info.os_version_minor),
    ] {
        if let Some(v) = value {
            extra.push((name, json!(v)));
        }
    }
    let mut runtime = Map::new();
    runtime.insert("client-payload".into(), Value::Object(info.client_payload.clone()));
    if let Some(k) = &v.enc_key {
        use base64::Engine;
        let b64 = |b: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
        runtime.insert(
            "keys".into(),
            json!([{"kid": "TpmEphemeralEncryptionKey", "kty": "RSA", "key_ops": ["encrypt"], "n": b64(&k.n), "e": b64(&k.e)}]),
        );
    }
    extra.push(("x-ms-runtime", Value::Object(runtime)));
    extra.extend(v.boot_claims.iter().cloned());
    for (name, value) in extra {
        if let Some(c) = ClaimValue::from_json(value.clone()) {
            out.incoming.add(name, c);
        }
        out.token_claims.insert(name.to_owned(), value);
    }
    out
}

/// The appraisal of a verified guest.
///
/// * `x-ms-attestation-type`: `azurevm`; `x-ms-azurevm-attestation-protocol-ver`: `2.0`.
/// * `x-ms-isolation-tee`: `{x-ms-attestation-type: sevsnpvm, x-ms-sevsnpvm-*…, x-ms-runtime:
///   <HCL runtime data>}`, for TDX guests `{x-ms-attestation-type: tdxvm, tdx_*…,
///   attester_tcb_status, …, x-ms-runtime: <HCL runtime data>}` (the claims of `/attest/TdxVm`).
/// * `x-ms-azurevm-attested-pcrs` (indices) and attestd's `x-ms-azurevm-pcrs` (index → hex).
/// * `x-ms-azurevm-vmid` and `secureboot` from the HCL runtime data's `vm-configuration`
///   (`vmUniqueId`, `secure-boot`), which the hardware report vouches for; the VM id also names
///   the attester for the monitor (see `attestd_evidence::Attester`).
pub fn appraisal(g: &VerifiedGuest) -> Appraisal {
    let mut tee = Map::new();
    match &g.hardware {
        HardwareEvidence::Snp(snp) => {
            tee.insert("x-ms-attestation-type".into(), json!("sevsnpvm"));
            for (name, value) in attestd_snp::claims::report_claims(snp) {
                tee.insert(name.to_owned(), value.to_json());
            }
        }
        HardwareEvidence::Tdx(td) => {
            tee.insert("x-ms-attestation-type".into(), json!("tdxvm"));
            for (name, value) in &td.claims {
                tee.insert(name.clone(), value.clone());
            }
        }
    }
    tee.insert("x-ms-runtime".into(), g.runtime.json.clone());
    let measurements = boot_measurements(g, &tee);
    let indices: Vec<u32> = g.pcrs.iter().map(|(i, _)| *i).collect();
    let pcrs: Map<String, Value> = g
        .pcrs
        .iter()
        .map(|(i, v)| (i.to_string(), json!(hex::encode(v))))
        .collect();
    let mut claims: Vec<(&'static str, Value)> = vec![
        ("x-ms-azurevm-attestation-protocol-ver", json!("2.0")),
        ("x-ms-azurevm-attested-pcrs", json!(indices)),
        ("x-ms-azurevm-pcrs", Value::Object(pcrs)),
        ("x-ms-isolation-tee", Value::Object(tee)),
    ];
    let mut attester = None;
    if let Some(config) = g.runtime.vm_configuration() {
        if let Some(id) = config.get("vmUniqueId").and_then(Value::as_str) {
            claims.push(("x-ms-azurevm-vmid", json!(id)));
            attester = Some(Attester {
                id: id.to_owned(),
                measurements,
            });
        }
        if let Some(sb) = config.get("secure-boot").and_then(Value::as_bool) {
            claims.push(("secureboot", json!(sb)));
        }
    }
    let mut out = Appraisal::default();
    out.incoming.add("x-ms-attestation-type", "azurevm");
    let mut token = BTreeMap::new();
    for (name, value) in claims {
        if let Some(v) = ClaimValue::from_json(value.clone()) {
            out.incoming.add(name, v);
        }
        token.insert(name.to_owned(), value);
    }
    out.token_claims = token;
    out.attester = attester;
    out
}

/// What the attester monitor compares between two attestations of one VM: the vTPM's boot PCRs
/// 0–7 (`PCR<i>` → hex) and the measurement of its firmware: the SEV-SNP launch measurement
/// (`launchmeasurement`) or the TD's MRTD (`mrtd`).
fn boot_measurements(g: &VerifiedGuest, tee: &Map<String, Value>) -> BTreeMap<String, String> {
    let mut m: BTreeMap<String, String> = g
        .pcrs
        .iter()
        .filter(|(i, _)| *i <= 7)
        .map(|(i, v)| (format!("PCR{i}"), hex::encode(v)))
        .collect();
    match &g.hardware {
        HardwareEvidence::Snp(_) => {
            if let Some(lm) = tee.get("x-ms-sevsnpvm-launchmeasurement").and_then(Value::as_str) {
                m.insert("launchmeasurement".into(), lm.to_owned());
            }
        }
        HardwareEvidence::Tdx(td) => {
            m.insert("mrtd".into(), hex::encode(td.mr_td));
        }
    }
    m
}
