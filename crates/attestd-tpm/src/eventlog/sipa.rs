//! Windows SIPA events: the tagged events (`TCG_PCClientTaggedEventStruct`, little-endian
//! `u32 EventID, u32 EventDataSize, data`) Windows boot applications log as `EV_EVENT_TAG` into
//! PCRs 12–14 (boot configuration, modules, authorities). Tag values and payload layouts are
//! those of the Windows SDK's `wbcl.h` (`SIPAEVENT_*`).
//!
//! Each event decodes to MAA's `ProcessedData` shape (reference C.5.4): an object keyed by
//! `EVENT_<NAME>`, containers (`EVENT_TRUSTBOUNDARY`, aggregations) nesting their events.

use serde_json::{Map, Value, json};

use super::decode::utf16;
use super::{Event, b64url};

/// `EV_EVENT_TAG`.
pub(crate) const EV_EVENT_TAG: u32 = 6;

// Event type field (bits 16..24 of the tag) and flags (top byte).
const TYPE_CONTAINER: u32 = 0x0001;
const FLAG_NONMEASURED: u32 = 0x8000_0000;

/// `SIPAEVENT_BOOTDEBUGGING`.
pub const BOOTDEBUGGING: u32 = 0x0004_0001;
/// `SIPAEVENT_OSKERNELDEBUG`.
pub const OSKERNELDEBUG: u32 = 0x0005_0001;
/// `SIPAEVENT_SAFEMODE`.
pub const SAFEMODE: u32 = 0x0005_0005;
/// `SIPAEVENT_WINPE`.
pub const WINPE: u32 = 0x0005_0006;
/// `SIPAEVENT_VSM_LAUNCH_TYPE`.
pub const VSM_LAUNCH_TYPE: u32 = 0x0005_0012;
/// `SIPAEVENT_VSM_IDK_INFO` (the VSM identity key).
pub const VSM_IDK_INFO: u32 = 0x0005_0020;
/// `SIPAEVENT_VSM_IDKS_INFO` (the VSM identity signing key).
pub const VSM_IDKS_INFO: u32 = 0x0005_0023;
/// `SIPAEVENT_HYPERVISOR_BOOT_DMA_PROTECTION`.
pub const HYPERVISOR_BOOT_DMA_PROTECTION: u32 = 0x0005_0030;
/// `SIPAEVENT_VBS_VSM_REQUIRED`.
pub const VBS_VSM_REQUIRED: u32 = 0x000A_0001;
/// `SIPAEVENT_VBS_IOMMU_REQUIRED`.
pub const VBS_IOMMU_REQUIRED: u32 = 0x000A_0003;

/// How a payload is shown.
#[derive(Clone, Copy)]
enum Kind {
    Bool,
    /// A little-endian integer of the payload's size (1, 2, 4 or 8 bytes).
    Int,
    /// `{"Value": int}` (MAA's shape for enumerations and policies).
    Value,
    Utf16,
    Bytes,
    TransferControl,
    BitlockerUnlock,
    IdkInfo,
    SiPolicy,
    RevocationList,
    Container,
}

/// (tag, MAA name without `EVENT_`, how the payload is decoded).
const TAGS: &[(u32, &str, Kind)] = &[
    (0x4001_0001, "TRUSTBOUNDARY", Kind::Container),
    (0x4001_0002, "ELAM_AGGREGATION", Kind::Container),
    (0x4001_0003, "LOADEDMODULE_AGGREGATION", Kind::Container),
    (0xC001_0004, "TRUSTPOINT_AGGREGATION", Kind::Container),
    (0x4001_0005, "KSR_AGGREGATION", Kind::Container),
    (0x4001_0006, "KSR_SIGNED_MEASUREMENT_AGGREGATION", Kind::Container),
    (0x0002_0001, "INFORMATION", Kind::Bytes),
    (0x0002_0002, "BOOTCOUNTER", Kind::Int),
    (0x0002_0003, "TRANSFER_CONTROL", Kind::TransferControl),
    (0x0002_0004, "APPLICATION_RETURN", Kind::Bytes),
    (0x0002_0005, "BITLOCKER_UNLOCK", Kind::BitlockerUnlock),
    (0x0002_0006, "EVENTCOUNTER", Kind::Int),
    (0x0002_0007, "COUNTERID", Kind::Int),
    (0x0002_0008, "MORBIT_NOT_CANCELABLE", Kind::Int),
    (0x0002_0009, "APPLICATION_SVN", Kind::Int),
    (0x0002_000A, "SVN_CHAIN_STATUS", Kind::Int),
    (0x0002_000B, "MORBIT_API_STATUS", Kind::Int),
    (0x0002_000C, "IDK_GENERATION_STATUS", Kind::Int),
    (0x0003_0001, "FIRMWAREFAILURE", Kind::Bytes),
    (0x8003_0002, "TPMFAILURE", Kind::Bytes),
    (0x0003_0003, "INTERNALFAILURE", Kind::Bytes),
    (0x0003_0005, "HYPERVISORFAILURE", Kind::Bytes),
    (BOOTDEBUGGING, "BOOTDEBUGGING", Kind::Bool),
    (0x0004_0002, "BOOT_REVOCATION_LIST", Kind::RevocationList),
    (OSKERNELDEBUG, "OSKERNELDEBUG", Kind::Bool),
    (0x0005_0002, "CODEINTEGRITY", Kind::Bool),
    (0x0005_0003, "TESTSIGNING", Kind::Bool),
    (0x0005_0004, "DATAEXECUTIONPREVENTION", Kind::Value),
    (SAFEMODE, "SAFEMODE", Kind::Bool),
    (WINPE, "WINPE", Kind::Bool),
    (0x0005_0007, "PHYSICALADDRESSEXTENSION", Kind::Value),
    (0x0005_0008, "OSDEVICE", Kind::Value),
    (0x0005_0009, "SYSTEMROOT", Kind::Utf16),
    (0x0005_000A, "HYPERVISOR_LAUNCH_TYPE", Kind::Value),
    (0x0005_000B, "HYPERVISOR_PATH", Kind::Utf16),
    (0x0005_000C, "HYPERVISOR_IOMMU_POLICY", Kind::Value),
    (0x0005_000D, "HYPERVISOR_DEBUG", Kind::Bool),
    (0x0005_000E, "DRIVER_LOAD_POLICY", Kind::Value),
    (0x0005_000F, "SI_POLICY", Kind::SiPolicy),
    (0x0005_0010, "HYPERVISOR_MMIO_NX_POLICY", Kind::Value),
    (0x0005_0011, "HYPERVISOR_MSR_FILTER_POLICY", Kind::Value),
    (VSM_LAUNCH_TYPE, "VSM_LAUNCH_TYPE", Kind::Value),
    (0x0005_0013, "OS_REVOCATION_LIST", Kind::RevocationList),
    (0x0005_0014, "SMT_STATUS", Kind::Value),
    (VSM_IDK_INFO, "VSM_IDK_INFO", Kind::IdkInfo),
    (0x0005_0021, "FLIGHTSIGNING", Kind::Bool),
    (0x0005_0022, "PAGEFILE_ENCRYPTION_ENABLED", Kind::Bool),
    (VSM_IDKS_INFO, "VSM_IDKS_INFO", Kind::IdkInfo),
    (0x0005_0024, "HIBERNATION_DISABLED", Kind::Bool),
    (0x0005_0025, "DUMPS_DISABLED", Kind::Bool),
    (0x0005_0026, "DUMP_ENCRYPTION_ENABLED", Kind::Bool),
    (0x0005_0027, "DUMP_ENCRYPTION_KEY_DIGEST", Kind::Bytes),
    (0x0005_0028, "LSAISO_CONFIG", Kind::Value),
    (0x0005_0029, "SBCP_INFO", Kind::Bytes),
    (
        HYPERVISOR_BOOT_DMA_PROTECTION,
        "HYPERVISOR_BOOT_DMA_PROTECTION",
        Kind::Bool,
    ),
    (0x0006_0001, "NOAUTHORITY", Kind::Bytes),
    (0x0006_0002, "AUTHORITYPUBKEY", Kind::Bytes),
    (0x0007_0001, "FILEPATH", Kind::Utf16),
    (0x0007_0002, "IMAGESIZE", Kind::Int),
    (0x0007_0003, "HASHALGORITHMID", Kind::Int),
    (0x0007_0004, "AUTHENTICODEHASH", Kind::Bytes),
    (0x0007_0005, "AUTHORITYISSUER", Kind::Utf16),
    (0x0007_0006, "AUTHORITYSERIAL", Kind::Bytes),
    (0x0007_0007, "IMAGEBASE", Kind::Int),
    (0x0007_0008, "AUTHORITYPUBLISHER", Kind::Utf16),
    (0x0007_0009, "AUTHORITYSHA1THUMBPRINT", Kind::Bytes),
    (0x0007_000A, "IMAGEVALIDATED", Kind::Bool),
    (0x0007_000B, "MODULE_SVN", Kind::Int),
    (0x8008_0001, "QUOTE", Kind::Bytes),
    (0x8008_0002, "QUOTESIGNATURE", Kind::Bytes),
    (0x8008_0003, "AIKID", Kind::Utf16),
    (0x8008_0004, "AIKPUBDIGEST", Kind::Bytes),
    (0x0009_0001, "ELAM_KEYNAME", Kind::Utf16),
    (0x0009_0002, "ELAM_CONFIGURATION", Kind::Bytes),
    (0x0009_0003, "ELAM_POLICY", Kind::Bytes),
    (0x0009_0004, "ELAM_MEASURED", Kind::Bytes),
    (VBS_VSM_REQUIRED, "VBS_VSM_REQUIRED", Kind::Bool),
    (0x000A_0002, "VBS_SECUREBOOT_REQUIRED", Kind::Bool),
    (VBS_IOMMU_REQUIRED, "VBS_IOMMU_REQUIRED", Kind::Bool),
    (0x000A_0004, "VBS_MMIO_NX_REQUIRED", Kind::Bool),
    (0x000A_0005, "VBS_MSR_FILTERING_REQUIRED", Kind::Bool),
    (0x000A_0006, "VBS_MANDATORY_ENFORCEMENT", Kind::Bool),
    (0x000A_0007, "VBS_HVCI_POLICY", Kind::Value),
    (0x000A_0008, "VBS_MICROSOFT_BOOT_CHAIN_REQUIRED", Kind::Bool),
    (0x000A_0009, "VBS_DUMP_USES_AMEROOT", Kind::Bool),
    (0x000A_000A, "VBS_VSM_NOSECRETS_ENFORCED", Kind::Bool),
    (0x000B_0001, "KSR_SIGNATURE", Kind::Bytes),
    (0x000C_0001, "DRTM_STATE_AUTH", Kind::Bytes),
    (0x000C_0002, "DRTM_SMM_LEVEL", Kind::Value),
    (0x000C_0003, "DRTM_AMD_SMM_HASH", Kind::Bytes),
    (0x000C_0004, "DRTM_AMD_SMM_SIGNER_KEY", Kind::Bytes),
];

/// Names that repeat in a container (one per loaded module, ELAM driver or policy): always arrays.
const REPEATED: &[&str] = &["LOADEDMODULE_AGGREGATION", "ELAM_AGGREGATION", "SI_POLICY"];

/// Deepest container nesting accepted (Windows nests two levels; more is corruption).
const MAX_DEPTH: usize = 8;

/// One SIPA event: its tag and payload; a container's payload holds further events.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SipaEvent<'a> {
    /// `EventID` (`SIPAEVENT_*`).
    pub tag: u32,
    /// The payload.
    pub data: &'a [u8],
    /// The events of a container, in order (empty for other events).
    pub children: Vec<SipaEvent<'a>>,
}

impl<'a> SipaEvent<'a> {
    /// Whether the tag is a container (event type `SIPAEVENTTYPE_CONTAINER`).
    pub fn is_container(tag: u32) -> bool {
        (tag >> 16) & 0xFF == TYPE_CONTAINER
    }

    /// The measured leaf events at and below this one, depth first: (tag, payload).
    fn leaves(&self, out: &mut Vec<(u32, &'a [u8])>) {
        // Non-measured events (trust points) are not in any PCR.
        if self.tag & FLAG_NONMEASURED != 0 {
            return;
        }
        if Self::is_container(self.tag) {
            for c in &self.children {
                c.leaves(out);
            }
        } else {
            out.push((self.tag, self.data));
        }
    }
}

/// Parses the SIPA events of an `EV_EVENT_TAG` event's data; `None` when it is not a well-formed
/// sequence of tagged events (then it is left undecoded).
pub fn parse(data: &[u8]) -> Option<Vec<SipaEvent<'_>>> {
    parse_at(data, 0)
}

fn parse_at(mut data: &[u8], depth: usize) -> Option<Vec<SipaEvent<'_>>> {
    if depth > MAX_DEPTH {
        return None;
    }
    let mut out = Vec::new();
    while !data.is_empty() {
        let tag = u32::from_le_bytes(data.get(..4)?.try_into().ok()?);
        let size = usize::try_from(u32::from_le_bytes(data.get(4..8)?.try_into().ok()?)).ok()?;
        let payload = data.get(8..8usize.checked_add(size)?)?;
        let children = if SipaEvent::is_container(tag) {
            parse_at(payload, depth + 1)?
        } else {
            Vec::new()
        };
        out.push(SipaEvent {
            tag,
            data: payload,
            children,
        });
        data = &data[8 + size..];
    }
    Some(out)
}

/// Every SIPA event of `events` (containers flattened) that is an `EV_EVENT_TAG` on one of the
/// PCRs `trusted` accepts, in log order. Non-measured events (trust points) are skipped: their
/// data is not in any PCR.
pub fn measured<'a>(events: &'a [Event], trusted: &dyn Fn(u32) -> bool) -> Vec<(u32, &'a [u8])> {
    let mut out = Vec::new();
    for e in events.iter().filter(|e| e.event_type == EV_EVENT_TAG && trusted(e.pcr)) {
        let Some(top) = parse(&e.data) else { continue };
        for t in &top {
            t.leaves(&mut out);
        }
    }
    out
}

/// `ProcessedData` of an `EV_EVENT_TAG` event; `None` when its data is not SIPA events.
pub(crate) fn processed(data: &[u8]) -> Option<Value> {
    Some(object(&parse(data)?))
}

fn object(events: &[SipaEvent<'_>]) -> Value {
    let mut o = Map::new();
    for e in events {
        let (name, kind) = TAGS.iter().find(|(t, _, _)| *t == e.tag).map_or_else(
            || (format!("EVENT_{:08X}", e.tag), None),
            |(_, n, k)| (format!("EVENT_{n}"), Some(*k)),
        );
        let value = if SipaEvent::is_container(e.tag) {
            object(&e.children)
        } else {
            payload(kind, e.data)
        };
        let repeated = REPEATED.iter().any(|r| name.strip_prefix("EVENT_") == Some(*r));
        match o.get_mut(&name) {
            Some(Value::Array(list)) if repeated => list.push(value),
            // A name that repeats without being a known list: keep every value, in order.
            Some(existing) => {
                let first = existing.take();
                *existing = match first {
                    Value::Array(mut list) => {
                        list.push(value);
                        Value::Array(list)
                    }
                    first => Value::Array(vec![first, value]),
                };
            }
            None if repeated => {
                o.insert(name, Value::Array(vec![value]));
            }
            None => {
                o.insert(name, value);
            }
        }
    }
    Value::Object(o)
}

/// A little-endian unsigned integer of 1, 2, 4 or 8 bytes.
pub fn le_uint(b: &[u8]) -> Option<u64> {
    match b.len() {
        1 | 2 | 4 | 8 => Some(b.iter().rev().fold(0u64, |acc, &x| (acc << 8) | u64::from(x))),
        _ => None,
    }
}

/// A boolean payload (one byte; Windows writes 0 or 1).
pub fn le_bool(b: &[u8]) -> Option<bool> {
    match b {
        [v] => Some(*v != 0),
        _ => None,
    }
}

fn raw(b: &[u8]) -> Value {
    json!({ "RawData": b64url(b) })
}

fn payload(kind: Option<Kind>, b: &[u8]) -> Value {
    let decoded = match kind {
        None => None,
        Some(Kind::Bool) => le_bool(b).map(Value::Bool),
        Some(Kind::Int) => le_uint(b).map(Value::from),
        Some(Kind::Value) => le_uint(b).map(|v| json!({ "Value": v })),
        Some(Kind::Utf16) => utf16(b).map(Value::String),
        Some(Kind::Bytes) => Some(Value::String(b64url(b))),
        Some(Kind::TransferControl) => le_uint(b).map(|v| {
            // The only value whose meaning the SDK names: control went to the OS loader.
            if v == 1 {
                json!({ "String": "SiBootAppOsLoader", "Value": v })
            } else {
                json!({ "Value": v })
            }
        }),
        Some(Kind::BitlockerUnlock) => le_uint(b).map(|v| json!({ "String": unlock_flags(v), "Value": v })),
        Some(Kind::IdkInfo) => idk_info(b).map(|k| {
            json!({ "KeyAlgID": k.alg, "KeyBitLength": k.bits, "PublicExponent": b64url(&k.exponent),
                    "Modulus": b64url(&k.modulus) })
        }),
        Some(Kind::SiPolicy) => si_policy(b),
        Some(Kind::RevocationList) => revocation_list(b),
        Some(Kind::Container) => Some(Value::Null),
    };
    decoded.unwrap_or_else(|| raw(b))
}

/// `FVEB_UNLOCK_FLAG_*` names, `|`-joined (`NONE` for 0).
fn unlock_flags(v: u64) -> String {
    const FLAGS: &[(u64, &str)] = &[
        (0x001, "CACHED"),
        (0x002, "MEDIA"),
        (0x004, "TPM"),
        (0x010, "PIN"),
        (0x020, "EXTERNAL"),
        (0x040, "RECOVERY"),
        (0x080, "PASSPHRASE"),
        (0x100, "NBP"),
        (0x200, "AUK_OSFVEINFO"),
    ];
    if v == 0 {
        return "NONE".into();
    }
    let names: Vec<&str> = FLAGS.iter().filter(|(f, _)| v & f != 0).map(|(_, n)| *n).collect();
    names.join("|")
}

/// A VSM identity key as measured (`SIPAEVENT_VSM_IDK_INFO_PAYLOAD`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdkInfo {
    /// `KeyAlgID` (`VSM_IDK_ALG_ID`; 1 is RSA, the only one defined).
    pub alg: u32,
    /// `KeyBitLength`.
    pub bits: u32,
    /// The public exponent, big-endian.
    pub exponent: Vec<u8>,
    /// The modulus, big-endian.
    pub modulus: Vec<u8>,
}

/// `KeyAlgID` u32, then `SIPAEVENT_VSM_IDK_RSA_INFO`: `KeyBitLength`, `PublicExpLengthBytes`,
/// `ModulusSizeBytes` (u32 LE each), then the exponent and the modulus (big-endian).
pub fn idk_info(b: &[u8]) -> Option<IdkInfo> {
    let u32_at = |at: usize| -> Option<u32> { Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?)) };
    let alg = u32_at(0)?;
    let bits = u32_at(4)?;
    let exp_len = usize::try_from(u32_at(8)?).ok()?;
    let mod_len = usize::try_from(u32_at(12)?).ok()?;
    let exp_end = 16usize.checked_add(exp_len)?;
    let end = exp_end.checked_add(mod_len)?;
    if end != b.len() {
        return None;
    }
    Some(IdkInfo {
        alg,
        bits,
        exponent: b[16..exp_end].to_vec(),
        modulus: b[exp_end..end].to_vec(),
    })
}

/// `SIPAEVENT_SI_POLICY_PAYLOAD`: PolicyVersion u64, PolicyNameLength u16, HashAlgID u16,
/// DigestLength u32, PolicyName (UTF-16), Digest.
fn si_policy(b: &[u8]) -> Option<Value> {
    let version = le_uint(b.get(0..8)?)?;
    let name_len = usize::try_from(le_uint(b.get(8..10)?)?).ok()?;
    let alg = le_uint(b.get(10..12)?)?;
    let digest_len = usize::try_from(le_uint(b.get(12..16)?)?).ok()?;
    let name_end = 16usize.checked_add(name_len)?;
    let name = utf16(b.get(16..name_end)?)?;
    let digest = b.get(name_end..name_end.checked_add(digest_len)?)?;
    Some(
        json!({ "PolicyVersion": version, "PolicyName": name, "HashAlgID": alg, "Digest": b64url(digest),
                 "RawData": b64url(b) }),
    )
}

/// `SIPAEVENT_REVOCATION_LIST_PAYLOAD`: CreationTime i64, DigestLength u32, HashAlgID u16, Digest.
fn revocation_list(b: &[u8]) -> Option<Value> {
    let created = le_uint(b.get(0..8)?)?;
    let digest_len = usize::try_from(le_uint(b.get(8..12)?)?).ok()?;
    let alg = le_uint(b.get(12..14)?)?;
    let digest = b.get(14..14usize.checked_add(digest_len)?)?;
    Some(json!({ "CreationTime": created, "HashAlgID": alg, "Digest": b64url(digest), "RawData": b64url(b) }))
}

/// MAA's boolean boot-configuration claims derived from measured SIPA events. `None` means the
/// log holds no event that decides the claim (the claim is then not emitted).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BootConfiguration {
    /// `bootDebuggingDisabled`: every `BOOTDEBUGGING` event is false.
    pub boot_debugging_disabled: Option<bool>,
    /// `notSafeMode`: every `SAFEMODE` event is false.
    pub not_safe_mode: Option<bool>,
    /// `notWinPE`: every `WINPE` event is false.
    pub not_win_pe: Option<bool>,
    /// `iommuEnabled`: some `VBS_IOMMU_REQUIRED` or `HYPERVISOR_BOOT_DMA_PROTECTION` is true.
    pub iommu_enabled: Option<bool>,
    /// `vbsEnabled`: some `VSM_LAUNCH_TYPE` is non-zero or some `VBS_VSM_REQUIRED` is true.
    pub vbs_enabled: Option<bool>,
}

impl BootConfiguration {
    /// Derives the claims from measured SIPA events (see [`measured`]). A malformed payload of a
    /// deciding event counts as the unsafe value: it cannot prove the safe one.
    pub fn from_events(events: &[(u32, &[u8])]) -> BootConfiguration {
        let flags = |tag: u32| -> Vec<bool> {
            events
                .iter()
                .filter(|(t, _)| *t == tag)
                .map(|(_, d)| le_bool(d).unwrap_or(true))
                .collect()
        };
        // "Disabled" claims: decided when the event is there; true only if no event says on.
        let none_on = |tag: u32| {
            let v = flags(tag);
            (!v.is_empty()).then(|| !v.iter().any(|&on| on))
        };
        // "Enabled" claims: decided when some event is there; true if one says on.
        let some_on = |values: Vec<bool>| (!values.is_empty()).then(|| values.iter().any(|&on| on));
        let iommu: Vec<bool> = [VBS_IOMMU_REQUIRED, HYPERVISOR_BOOT_DMA_PROTECTION]
            .iter()
            .flat_map(|&t| events.iter().filter(move |(e, _)| *e == t))
            .map(|(_, d)| le_bool(d).unwrap_or(false))
            .collect();
        let mut vbs: Vec<bool> = events
            .iter()
            .filter(|(t, _)| *t == VSM_LAUNCH_TYPE)
            .map(|(_, d)| le_uint(d).is_some_and(|v| v != 0))
            .collect();
        vbs.extend(
            events
                .iter()
                .filter(|(t, _)| *t == VBS_VSM_REQUIRED)
                .map(|(_, d)| le_bool(d).unwrap_or(false)),
        );
        BootConfiguration {
            boot_debugging_disabled: none_on(BOOTDEBUGGING),
            not_safe_mode: none_on(SAFEMODE),
            not_win_pe: none_on(WINPE),
            iommu_enabled: some_on(iommu),
            vbs_enabled: some_on(vbs),
        }
    }
}

/// The RSA VSM identity keys measured by `events`: signing keys (IDKS) first, then IDK.
pub fn vsm_keys(events: &[(u32, &[u8])]) -> Vec<IdkInfo> {
    let mut keys = Vec::new();
    for tag in [VSM_IDKS_INFO, VSM_IDK_INFO] {
        for (_, d) in events.iter().filter(|(t, _)| *t == tag) {
            if let Some(k) = idk_info(d).filter(|k| k.alg == 1 && !k.modulus.is_empty()) {
                keys.push(k);
            }
        }
    }
    keys
}

/// Encodes SIPA events (tag, payload) as the data of an `EV_EVENT_TAG` event; for building logs.
pub fn encode(events: &[(u32, Vec<u8>)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (tag, data) in events {
        out.extend(tag.to_le_bytes());
        out.extend(u32::try_from(data.len()).unwrap_or(u32::MAX).to_le_bytes());
        out.extend(data);
    }
    out
}
