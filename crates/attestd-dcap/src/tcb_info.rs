//! Intel's TCB info (v2 SGX, v3 SGX/TDX) and enclave identity (v2 QE / TD_QE) JSON, and the
//! level matching of Intel's reference QVL.
//!
//! Matching: levels are ordered as Intel's QVL keeps them (SGX components, then PCESVN, then TDX
//! components, highest first); the platform's level is the first whose SGX components and PCESVN
//! are all met, and for TDX also TEE_TCB_SVN (bytes 0 and 1 skipped when TEE_TCB_SVN\[1\] > 0,
//! because the TDX module identity `TDX_<svn[1]>` rates them).

use std::cmp::Ordering;

use serde::Deserialize;
use serde_json::Value;

use crate::error::{DcapError, ErrorCode, Result};
use crate::quote::TeeType;
use crate::tcb::TcbStatus;

/// One TCB level of a TCB info.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TcbLevel {
    /// SGX TCB component SVNs 1..16.
    pub sgx_components: [u8; 16],
    /// Minimum PCESVN.
    pub pce_svn: u16,
    /// TDX TCB component SVNs (TDX TCB info only).
    pub tdx_components: Option<[u8; 16]>,
    /// `tcbDate`.
    pub tcb_date: String,
    /// `tcbStatus`.
    pub status: TcbStatus,
    /// `advisoryIDs` (empty in v2).
    pub advisory_ids: Vec<String>,
}

/// A level of an identity (QE identity, TDX module identity): a minimum ISVSVN.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdentityLevel {
    /// Minimum ISVSVN.
    pub isv_svn: u16,
    /// `tcbDate`.
    pub tcb_date: String,
    /// `tcbStatus`.
    pub status: TcbStatus,
    /// `advisoryIDs`.
    pub advisory_ids: Vec<String>,
}

/// The identity of a TDX module (`tdxModule` or an entry of `tdxModuleIdentities`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TdxModule {
    /// `id` (`TDX_01`, ...; empty for the base `tdxModule`).
    pub id: String,
    /// MRSIGNERSEAM.
    pub mr_signer: [u8; 48],
    /// SEAMATTRIBUTES.
    pub attributes: [u8; 8],
    /// `attributesMask`.
    pub attributes_mask: [u8; 8],
    /// TCB levels by module ISVSVN (empty for the base `tdxModule`).
    pub levels: Vec<IdentityLevel>,
}

/// A parsed TCB info.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TcbInfo {
    /// SGX or TDX (`id`; v2 has none and is SGX).
    pub tee: TeeType,
    /// `version` (2 or 3).
    pub version: u32,
    /// `issueDate`, Unix seconds.
    pub issue_date: i64,
    /// `nextUpdate`, Unix seconds.
    pub next_update: i64,
    /// `fmspc`.
    pub fmspc: [u8; 6],
    /// `pceId`.
    pub pce_id: [u8; 2],
    /// `tcbEvaluationDataNumber`.
    pub tcb_evaluation_data_number: u32,
    /// `tdxModule` (TDX only).
    pub tdx_module: Option<TdxModule>,
    /// `tdxModuleIdentities` (TDX only).
    pub tdx_module_identities: Vec<TdxModule>,
    /// `tcbLevels`, in matching order.
    pub levels: Vec<TcbLevel>,
}

/// A parsed enclave identity (QE or TD_QE).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QeIdentity {
    /// `id`: `QE` or `TD_QE`.
    pub id: String,
    /// `version` (2).
    pub version: u32,
    /// `issueDate`, Unix seconds.
    pub issue_date: i64,
    /// `nextUpdate`, Unix seconds.
    pub next_update: i64,
    /// `tcbEvaluationDataNumber`.
    pub tcb_evaluation_data_number: u32,
    /// `miscselect`, as the report's 4 bytes are compared.
    pub miscselect: [u8; 4],
    /// `miscselectMask`.
    pub miscselect_mask: [u8; 4],
    /// `attributes`.
    pub attributes: [u8; 16],
    /// `attributesMask`.
    pub attributes_mask: [u8; 16],
    /// `mrsigner`.
    pub mr_signer: [u8; 32],
    /// `isvprodid`.
    pub isv_prod_id: u16,
    /// `tcbLevels`, highest ISVSVN first.
    pub levels: Vec<IdentityLevel>,
}

// ---- JSON shapes ----

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TcbInfoJson {
    id: Option<String>,
    version: u32,
    issue_date: String,
    next_update: String,
    fmspc: String,
    pce_id: String,
    tcb_evaluation_data_number: u32,
    tdx_module: Option<TdxModuleJson>,
    #[serde(default)]
    tdx_module_identities: Vec<TdxModuleJson>,
    tcb_levels: Vec<LevelJson>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TdxModuleJson {
    #[serde(default)]
    id: String,
    mrsigner: String,
    attributes: String,
    attributes_mask: String,
    #[serde(default)]
    tcb_levels: Vec<LevelJson>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct LevelJson {
    tcb: serde_json::Map<String, Value>,
    tcb_date: String,
    tcb_status: String,
    #[serde(rename = "advisoryIDs", default)]
    advisory_ids: Vec<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct QeIdentityJson {
    id: String,
    version: u32,
    issue_date: String,
    next_update: String,
    tcb_evaluation_data_number: u32,
    miscselect: String,
    miscselect_mask: String,
    attributes: String,
    attributes_mask: String,
    mrsigner: String,
    isvprodid: u16,
    tcb_levels: Vec<LevelJson>,
}

/// Parses an RFC 3339 UTC instant into Unix seconds.
pub(crate) fn parse_time(text: &str) -> Option<i64> {
    time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
        .ok()
        .map(time::OffsetDateTime::unix_timestamp)
}

fn hex_array<const N: usize>(text: &str, field: &str, code: ErrorCode) -> Result<[u8; N]> {
    let bytes = hex::decode(text).map_err(|_| DcapError::new(code, format!("{field} is not hex")))?;
    bytes
        .try_into()
        .map_err(|b: Vec<u8>| DcapError::new(code, format!("{field} has {} bytes, {N} expected", b.len())))
}

fn time_field(text: &str, field: &str, code: ErrorCode) -> Result<i64> {
    parse_time(text).ok_or_else(|| DcapError::new(code, format!("{field} '{text}' is not an RFC 3339 time")))
}

fn status_field(text: &str, field: &str, code: ErrorCode) -> Result<TcbStatus> {
    TcbStatus::parse(text).ok_or_else(|| DcapError::new(code, format!("{field} '{text}' is not a TCB status")))
}

fn svn_u8(v: Option<&Value>, field: &str) -> Result<u8> {
    v.and_then(Value::as_u64)
        .and_then(|n| u8::try_from(n).ok())
        .ok_or_else(|| DcapError::new(ErrorCode::TcbInfoMalformed, format!("{field} is not an SVN (0..255)")))
}

fn components(v: Option<&Value>, field: &str) -> Result<[u8; 16]> {
    let list = v
        .and_then(Value::as_array)
        .ok_or_else(|| DcapError::new(ErrorCode::TcbInfoMalformed, format!("{field} is not a list")))?;
    // dcap-qvl and Intel's QVL compare exactly 16 components; any other count is an error.
    if list.len() != 16 {
        return Err(DcapError::new(
            ErrorCode::TcbInfoMalformed,
            format!("{field} has {} components, 16 expected", list.len()),
        ));
    }
    let mut out = [0u8; 16];
    for (i, (slot, c)) in out.iter_mut().zip(list).enumerate() {
        *slot = svn_u8(c.get("svn"), &format!("{field}[{i}].svn"))?;
    }
    Ok(out)
}

fn identity_level(l: &LevelJson, field: &str, code: ErrorCode) -> Result<IdentityLevel> {
    let isv_svn = l
        .tcb
        .get("isvsvn")
        .and_then(Value::as_u64)
        .and_then(|n| u16::try_from(n).ok())
        .ok_or_else(|| DcapError::new(code, format!("{field}.tcb.isvsvn is missing or not a u16")))?;
    Ok(IdentityLevel {
        isv_svn,
        tcb_date: l.tcb_date.clone(),
        status: status_field(&l.tcb_status, &format!("{field}.tcbStatus"), code)?,
        advisory_ids: l.advisory_ids.clone(),
    })
}

fn tdx_module(m: &TdxModuleJson, field: &str) -> Result<TdxModule> {
    let code = ErrorCode::TcbInfoMalformed;
    let levels = m
        .tcb_levels
        .iter()
        .enumerate()
        .map(|(i, l)| identity_level(l, &format!("{field}.tcbLevels[{i}]"), code))
        .collect::<Result<Vec<_>>>()?;
    Ok(TdxModule {
        id: m.id.clone(),
        mr_signer: hex_array(&m.mrsigner, &format!("{field}.mrsigner"), code)?,
        attributes: hex_array(&m.attributes, &format!("{field}.attributes"), code)?,
        attributes_mask: hex_array(&m.attributes_mask, &format!("{field}.attributesMask"), code)?,
        levels,
    })
}

/// Intel's QVL keeps levels in a set ordered highest first: SGX components, then PCESVN, then
/// TDX components. The PCS already sends them so; sorting makes hand-edited infos match alike.
fn level_order(a: &TcbLevel, b: &TcbLevel) -> Ordering {
    b.sgx_components
        .cmp(&a.sgx_components)
        .then(b.pce_svn.cmp(&a.pce_svn))
        .then(b.tdx_components.cmp(&a.tdx_components))
}

impl TcbInfo {
    /// Parses the inner TCB info object (the signed text).
    pub fn parse(text: &str) -> Result<TcbInfo> {
        let code = ErrorCode::TcbInfoMalformed;
        let j: TcbInfoJson = serde_json::from_str(text).map_err(|e| DcapError::new(code, format!("tcbInfo: {e}")))?;
        let tee = match (j.id.as_deref(), j.version) {
            (None | Some("SGX"), 2) | (Some("SGX"), 3) => TeeType::Sgx,
            (Some("TDX"), 3) => TeeType::Tdx,
            (id, v) => {
                return Err(DcapError::new(
                    code,
                    format!("tcbInfo.id {id:?} version {v} (SGX v2/v3 or TDX v3 expected)"),
                ));
            }
        };
        let mut levels = Vec::with_capacity(j.tcb_levels.len());
        for (i, l) in j.tcb_levels.iter().enumerate() {
            let field = format!("tcbInfo.tcbLevels[{i}].tcb");
            let pce_svn = l
                .tcb
                .get("pcesvn")
                .and_then(Value::as_u64)
                .and_then(|n| u16::try_from(n).ok())
                .ok_or_else(|| DcapError::new(code, format!("{field}.pcesvn is missing or not a u16")))?;
            let sgx_components = if j.version == 2 {
                let mut out = [0u8; 16];
                for (k, slot) in out.iter_mut().enumerate() {
                    let key = format!("sgxtcbcomp{:02}svn", k + 1);
                    *slot = svn_u8(l.tcb.get(&key), &format!("{field}.{key}"))?;
                }
                out
            } else {
                components(l.tcb.get("sgxtcbcomponents"), &format!("{field}.sgxtcbcomponents"))?
            };
            let tdx_components = match tee {
                TeeType::Tdx => Some(components(
                    l.tcb.get("tdxtcbcomponents"),
                    &format!("{field}.tdxtcbcomponents"),
                )?),
                TeeType::Sgx => None,
            };
            levels.push(TcbLevel {
                sgx_components,
                pce_svn,
                tdx_components,
                tcb_date: l.tcb_date.clone(),
                status: status_field(&l.tcb_status, &format!("tcbInfo.tcbLevels[{i}].tcbStatus"), code)?,
                advisory_ids: l.advisory_ids.clone(),
            });
        }
        levels.sort_by(level_order);
        let (tdx_module, tdx_module_identities) = match tee {
            TeeType::Sgx => (None, Vec::new()),
            TeeType::Tdx => {
                let base = j
                    .tdx_module
                    .as_ref()
                    .ok_or_else(|| DcapError::new(code, "tcbInfo.tdxModule is missing in a TDX TCB info"))?;
                let ids = j
                    .tdx_module_identities
                    .iter()
                    .enumerate()
                    .map(|(i, m)| tdx_module(m, &format!("tcbInfo.tdxModuleIdentities[{i}]")))
                    .collect::<Result<Vec<_>>>()?;
                (Some(tdx_module(base, "tcbInfo.tdxModule")?), ids)
            }
        };
        Ok(TcbInfo {
            tee,
            version: j.version,
            issue_date: time_field(&j.issue_date, "tcbInfo.issueDate", code)?,
            next_update: time_field(&j.next_update, "tcbInfo.nextUpdate", code)?,
            fmspc: hex_array(&j.fmspc, "tcbInfo.fmspc", code)?,
            pce_id: hex_array(&j.pce_id, "tcbInfo.pceId", code)?,
            tcb_evaluation_data_number: j.tcb_evaluation_data_number,
            tdx_module,
            tdx_module_identities,
            levels,
        })
    }

    /// The platform's TCB level: the first level met by the PCK's SGX components and PCESVN and,
    /// for TDX, by TEE_TCB_SVN. `None` when no level is met (Intel: TCB not supported).
    pub fn match_level(
        &self,
        sgx_components: &[u8; 16],
        pce_svn: u16,
        tee_tcb_svn: Option<&[u8; 16]>,
    ) -> Option<&TcbLevel> {
        self.levels
            .iter()
            .find(|l| level_is_met(l, sgx_components, pce_svn, tee_tcb_svn))
    }

    /// The TDX module identity `TDX_<svn[1]>` rating a module of major version `tee_tcb_svn[1]`;
    /// `Ok(None)` for version 0 (TDX 1.0 modules are rated by the TCB level alone), an error when
    /// the TCB info has no such identity.
    pub fn tdx_module_identity(&self, tee_tcb_svn: &[u8; 16]) -> Result<Option<&TdxModule>> {
        let version = tee_tcb_svn[1];
        if version == 0 {
            return Ok(None);
        }
        let id = format!("TDX_{version:02X}");
        self.tdx_module_identities
            .iter()
            .find(|m| m.id.eq_ignore_ascii_case(&id))
            .map(Some)
            .ok_or_else(|| {
                DcapError::new(
                    ErrorCode::TdxModuleMismatch,
                    format!("tcbInfo.tdxModuleIdentities has no {id}"),
                )
            })
    }
}

/// Whether `level` is met: every SGX component and PCESVN >=, and for TDX every TEE_TCB_SVN byte
/// >= (bytes 0-1 skipped when byte 1, the module version, is not 0).
pub fn level_is_met(level: &TcbLevel, sgx_components: &[u8; 16], pce_svn: u16, tee_tcb_svn: Option<&[u8; 16]>) -> bool {
    let sgx_ok = sgx_components
        .iter()
        .zip(&level.sgx_components)
        .all(|(have, need)| have >= need);
    if !sgx_ok || pce_svn < level.pce_svn {
        return false;
    }
    match (tee_tcb_svn, &level.tdx_components) {
        (None, _) => true,
        (Some(svn), Some(need)) => {
            let skip = if svn[1] > 0 { 2 } else { 0 };
            svn.iter().zip(need).skip(skip).all(|(have, need)| have >= need)
        }
        // A TDX quote against a level without TDX components never matches.
        (Some(_), None) => false,
    }
}

/// The first identity level whose ISVSVN is met.
pub fn match_identity_level(levels: &[IdentityLevel], isv_svn: u16) -> Option<&IdentityLevel> {
    levels.iter().find(|l| isv_svn >= l.isv_svn)
}

impl QeIdentity {
    /// Parses the inner enclave identity object (the signed text).
    pub fn parse(text: &str) -> Result<QeIdentity> {
        let code = ErrorCode::QeIdentityMalformed;
        let j: QeIdentityJson =
            serde_json::from_str(text).map_err(|e| DcapError::new(code, format!("enclaveIdentity: {e}")))?;
        if j.version != 2 && !(j.version == 3 && j.id == "TD_QE") {
            return Err(DcapError::new(
                code,
                format!("enclaveIdentity.version {} (2 expected)", j.version),
            ));
        }
        let mut levels = j
            .tcb_levels
            .iter()
            .enumerate()
            .map(|(i, l)| identity_level(l, &format!("enclaveIdentity.tcbLevels[{i}]"), code))
            .collect::<Result<Vec<_>>>()?;
        levels.sort_by_key(|l| std::cmp::Reverse(l.isv_svn));
        Ok(QeIdentity {
            id: j.id,
            version: j.version,
            issue_date: time_field(&j.issue_date, "enclaveIdentity.issueDate", code)?,
            next_update: time_field(&j.next_update, "enclaveIdentity.nextUpdate", code)?,
            tcb_evaluation_data_number: j.tcb_evaluation_data_number,
            miscselect: hex_array(&j.miscselect, "enclaveIdentity.miscselect", code)?,
            miscselect_mask: hex_array(&j.miscselect_mask, "enclaveIdentity.miscselectMask", code)?,
            attributes: hex_array(&j.attributes, "enclaveIdentity.attributes", code)?,
            attributes_mask: hex_array(&j.attributes_mask, "enclaveIdentity.attributesMask", code)?,
            mr_signer: hex_array(&j.mrsigner, "enclaveIdentity.mrsigner", code)?,
            isv_prod_id: j.isvprodid,
            levels,
        })
    }
}
