//! The SEV-SNP ATTESTATION_REPORT (AMD SEV-SNP ABI specification, "ATTESTATION_REPORT
//! Structure"): 1184 bytes, little-endian, signed over bytes 0..0x2A0.
//!
//! Versions 2 to 5 share one layout. Version 3 adds the CPUID family, model and stepping at
//! 0x188; version 5 adds the launch and current mitigation vectors at 0x1F8. Version 4 (a short-
//! lived firmware revision) is read like version 3. Fields a version does not define are reserved
//! and covered by the signature, so they are not interpreted.

use zerocopy::little_endian::{U32, U64};
use zerocopy::{FromBytes, Immutable, KnownLayout, Unaligned};

use crate::error::{ErrorCode, Result, SnpError};
use crate::generation::{Generation, TcbVersion};

/// The size of an ATTESTATION_REPORT.
pub const REPORT_LEN: usize = 0x4A0;

/// The signed prefix of the report: everything before the signature.
pub const SIGNED_LEN: usize = 0x2A0;

/// Bytes per signature component (r or s) in AMD's little-endian encoding.
const SIG_COMPONENT_LEN: usize = 72;

/// Bytes of a P-384 scalar.
const P384_SCALAR_LEN: usize = 48;

/// The report exactly as the firmware lays it out.
#[derive(FromBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
struct RawReport {
    version: U32,
    guest_svn: U32,
    policy: U64,
    family_id: [u8; 16],
    image_id: [u8; 16],
    vmpl: U32,
    signature_algo: U32,
    current_tcb: [u8; 8],
    platform_info: U64,
    key_info: U32,
    _reserved0: U32,
    report_data: [u8; 64],
    measurement: [u8; 48],
    host_data: [u8; 32],
    id_key_digest: [u8; 48],
    author_key_digest: [u8; 48],
    report_id: [u8; 32],
    report_id_ma: [u8; 32],
    reported_tcb: [u8; 8],
    cpuid_fam_id: u8,
    cpuid_mod_id: u8,
    cpuid_step: u8,
    _reserved1: [u8; 21],
    chip_id: [u8; 64],
    committed_tcb: [u8; 8],
    current_build: u8,
    current_minor: u8,
    current_major: u8,
    _reserved2: u8,
    committed_build: u8,
    committed_minor: u8,
    committed_major: u8,
    _reserved3: u8,
    launch_tcb: [u8; 8],
    launch_mit_vector: U64,
    current_mit_vector: U64,
    _reserved4: [u8; 152],
    signature_r: [u8; SIG_COMPONENT_LEN],
    signature_s: [u8; SIG_COMPONENT_LEN],
    /// Reserved, must be zero; not covered by the signature.
    _signature_reserved: [u8; 368],
}

// The layout above must be exactly the firmware's.
const _: () = assert!(size_of::<RawReport>() == REPORT_LEN);

/// A report version this verifier reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ReportVersion {
    /// Version 2 (SNP ABI 1.51 to 1.54).
    V2,
    /// Version 3: adds CPUID family, model and stepping.
    V3,
    /// Version 4: read as version 3.
    V4,
    /// Version 5: adds the launch and current mitigation vectors.
    V5,
}

impl ReportVersion {
    /// The VERSION field value.
    pub fn number(self) -> u32 {
        match self {
            ReportVersion::V2 => 2,
            ReportVersion::V3 => 3,
            ReportVersion::V4 => 4,
            ReportVersion::V5 => 5,
        }
    }

    fn from_number(v: u32) -> Option<ReportVersion> {
        match v {
            2 => Some(ReportVersion::V2),
            3 => Some(ReportVersion::V3),
            4 => Some(ReportVersion::V4),
            5 => Some(ReportVersion::V5),
            _ => None,
        }
    }
}

/// The guest policy the owner set at launch (POLICY, offset 0x08).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct GuestPolicy(pub u64);

impl GuestPolicy {
    const SMT: u64 = 1 << 16;
    const MIGRATE_MA: u64 = 1 << 18;
    const DEBUG: u64 = 1 << 19;
    const SINGLE_SOCKET: u64 = 1 << 20;
    const CXL_ALLOW: u64 = 1 << 21;
    const MEM_AES_256_XTS: u64 = 1 << 22;
    const RAPL_DIS: u64 = 1 << 23;
    const CIPHERTEXT_HIDING: u64 = 1 << 24;
    const PAGE_SWAP_DISABLE: u64 = 1 << 25;

    /// The minimum ABI minor version the guest requires (bits 7:0).
    pub fn abi_minor(self) -> u8 {
        self.0.to_le_bytes()[0]
    }

    /// The minimum ABI major version the guest requires (bits 15:8).
    pub fn abi_major(self) -> u8 {
        self.0.to_le_bytes()[1]
    }

    /// SMT (bit 16): the host may run the guest with simultaneous multithreading.
    pub fn smt_allowed(self) -> bool {
        self.0 & Self::SMT != 0
    }

    /// MIGRATE_MA (bit 18): a migration agent may be associated with the guest.
    pub fn migrate_ma_allowed(self) -> bool {
        self.0 & Self::MIGRATE_MA != 0
    }

    /// DEBUG (bit 19): the host may debug (decrypt) the guest.
    pub fn debug_allowed(self) -> bool {
        self.0 & Self::DEBUG != 0
    }

    /// SINGLE_SOCKET (bit 20): the guest may run on one socket only.
    pub fn single_socket_required(self) -> bool {
        self.0 & Self::SINGLE_SOCKET != 0
    }

    /// CXL_ALLOW (bit 21).
    pub fn cxl_allowed(self) -> bool {
        self.0 & Self::CXL_ALLOW != 0
    }

    /// MEM_AES_256_XTS (bit 22): AES-256-XTS memory encryption is required.
    pub fn mem_aes_256_xts_required(self) -> bool {
        self.0 & Self::MEM_AES_256_XTS != 0
    }

    /// RAPL_DIS (bit 23): running average power limit must be disabled.
    pub fn rapl_disabled_required(self) -> bool {
        self.0 & Self::RAPL_DIS != 0
    }

    /// CIPHERTEXT_HIDING (bit 24): ciphertext hiding must be enabled.
    pub fn ciphertext_hiding_required(self) -> bool {
        self.0 & Self::CIPHERTEXT_HIDING != 0
    }

    /// PAGE_SWAP_DISABLE (bit 25).
    pub fn page_swap_disabled(self) -> bool {
        self.0 & Self::PAGE_SWAP_DISABLE != 0
    }
}

/// The platform's state when the report was made (PLATFORM_INFO, offset 0x40).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PlatformInfo(pub u64);

impl PlatformInfo {
    /// SMT_EN (bit 0).
    pub fn smt_enabled(self) -> bool {
        self.0 & 1 != 0
    }

    /// TSME_EN (bit 1).
    pub fn tsme_enabled(self) -> bool {
        self.0 & (1 << 1) != 0
    }

    /// ECC_EN (bit 2).
    pub fn ecc_enabled(self) -> bool {
        self.0 & (1 << 2) != 0
    }

    /// RAPL_DIS (bit 3).
    pub fn rapl_disabled(self) -> bool {
        self.0 & (1 << 3) != 0
    }

    /// CIPHERTEXT_HIDING_EN (bit 4).
    pub fn ciphertext_hiding_enabled(self) -> bool {
        self.0 & (1 << 4) != 0
    }

    /// ALIAS_CHECK_COMPLETE (bit 5).
    pub fn alias_check_complete(self) -> bool {
        self.0 & (1 << 5) != 0
    }
}

/// Which key signed the report (SIGNING_KEY, bits 4:2 at offset 0x48).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SigningKey {
    /// The chip's Versioned Chip Endorsement Key.
    Vcek,
    /// A cloud provider's Versioned Loaded Endorsement Key.
    Vlek,
    /// The report is not signed.
    None,
}

/// The key and author flags at offset 0x48.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct KeyInfo {
    /// AUTHOR_KEY_EN (bit 0): the ID block was certified by an author key.
    pub author_key_en: bool,
    /// MASK_CHIP_KEY (bit 1): CHIP_ID is masked (zero).
    pub mask_chip_key: bool,
    /// SIGNING_KEY (bits 4:2).
    pub signing_key: SigningKey,
}

impl KeyInfo {
    fn parse(v: u32) -> Result<KeyInfo> {
        let signing_key = match (v >> 2) & 0b111 {
            0 => SigningKey::Vcek,
            1 => SigningKey::Vlek,
            7 => SigningKey::None,
            other => {
                return Err(SnpError::new(
                    ErrorCode::UnsupportedSigningKey,
                    format!("report field SIGNING_KEY is {other}, a reserved value (0 = VCEK, 1 = VLEK, 7 = none)"),
                ));
            }
        };
        Ok(KeyInfo {
            author_key_en: v & 1 != 0,
            mask_chip_key: v & 2 != 0,
            signing_key,
        })
    }
}

/// The CPUID(1) family, model and stepping of the reporting processor (version 3+).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Cpuid {
    /// Combined family (CPUID_FAM_ID), e.g. 0x19.
    pub family: u8,
    /// Combined model (CPUID_MOD_ID).
    pub model: u8,
    /// Stepping (CPUID_STEP).
    pub stepping: u8,
}

/// A firmware version: major.minor.build.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FirmwareVersion {
    /// Major number.
    pub major: u8,
    /// Minor number.
    pub minor: u8,
    /// Build number.
    pub build: u8,
}

/// The verified mitigation vectors of a version 5 report.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct MitigationVectors {
    /// LAUNCH_MIT_VECTOR: mitigations in force when the guest was launched.
    pub launch: u64,
    /// CURRENT_MIT_VECTOR: mitigations in force now.
    pub current: u64,
}

/// The report signature: ECDSA P-384 r and s, each as AMD encodes it (72 bytes, little-endian).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReportSignature {
    /// r, little-endian, zero-padded to 72 bytes.
    pub r: [u8; SIG_COMPONENT_LEN],
    /// s, little-endian, zero-padded to 72 bytes.
    pub s: [u8; SIG_COMPONENT_LEN],
}

impl ReportSignature {
    /// The fixed-width big-endian `r ‖ s` (96 bytes) that ECDSA verifiers take; fails when a
    /// component has bits above 384.
    pub fn to_fixed(&self) -> Result<[u8; 2 * P384_SCALAR_LEN]> {
        let mut out = [0u8; 2 * P384_SCALAR_LEN];
        for (name, le, dst) in [
            ("r", &self.r, 0..P384_SCALAR_LEN),
            ("s", &self.s, P384_SCALAR_LEN..2 * P384_SCALAR_LEN),
        ] {
            let (value, padding) = le.split_at(P384_SCALAR_LEN);
            if padding.iter().any(|b| *b != 0) {
                return Err(SnpError::new(
                    ErrorCode::ReportSignatureMalformed,
                    format!("report SIGNATURE.{name} has non-zero bytes above the 48 of a P-384 scalar"),
                ));
            }
            for (d, s) in out[dst].iter_mut().zip(value.iter().rev()) {
                *d = *s;
            }
        }
        Ok(out)
    }
}

/// A parsed ATTESTATION_REPORT. Every field of the published versions is typed; the original
/// bytes are kept for the signature check.
#[derive(Clone, Debug)]
pub struct AttestationReport {
    bytes: Box<[u8; REPORT_LEN]>,
    /// VERSION.
    pub version: ReportVersion,
    /// GUEST_SVN: the guest's security version from its ID block.
    pub guest_svn: u32,
    /// POLICY.
    pub policy: GuestPolicy,
    /// FAMILY_ID from the ID block.
    pub family_id: [u8; 16],
    /// IMAGE_ID from the ID block.
    pub image_id: [u8; 16],
    /// VMPL that requested the report.
    pub vmpl: u32,
    /// CURRENT_TCB: the platform's installed TCB.
    pub current_tcb: TcbVersion,
    /// PLATFORM_INFO.
    pub platform_info: PlatformInfo,
    /// AUTHOR_KEY_EN, MASK_CHIP_KEY, SIGNING_KEY.
    pub key_info: KeyInfo,
    /// REPORT_DATA supplied by the guest.
    pub report_data: [u8; 64],
    /// MEASUREMENT: the launch digest.
    pub measurement: [u8; 48],
    /// HOST_DATA supplied by the host at launch.
    pub host_data: [u8; 32],
    /// ID_KEY_DIGEST: SHA-384 of the ID-block signing key.
    pub id_key_digest: [u8; 48],
    /// AUTHOR_KEY_DIGEST: SHA-384 of the author key, zero without one.
    pub author_key_digest: [u8; 48],
    /// REPORT_ID of the guest.
    pub report_id: [u8; 32],
    /// REPORT_ID_MA of its migration agent (all ones without one).
    pub report_id_ma: [u8; 32],
    /// REPORTED_TCB: the TCB the VCEK signing this report was derived from.
    pub reported_tcb: TcbVersion,
    /// CPUID_FAM_ID, CPUID_MOD_ID, CPUID_STEP (version 3+).
    pub cpuid: Option<Cpuid>,
    /// CHIP_ID (zero when masked).
    pub chip_id: [u8; 64],
    /// COMMITTED_TCB.
    pub committed_tcb: TcbVersion,
    /// CURRENT_MAJOR, CURRENT_MINOR, CURRENT_BUILD.
    pub current_version: FirmwareVersion,
    /// COMMITTED_MAJOR, COMMITTED_MINOR, COMMITTED_BUILD.
    pub committed_version: FirmwareVersion,
    /// LAUNCH_TCB: CURRENT_TCB when the guest was launched.
    pub launch_tcb: TcbVersion,
    /// LAUNCH_MIT_VECTOR and CURRENT_MIT_VECTOR (version 5+).
    pub mitigation_vectors: Option<MitigationVectors>,
    /// SIGNATURE.
    pub signature: ReportSignature,
}

impl AttestationReport {
    /// Parses a report of exactly [`REPORT_LEN`] bytes.
    pub fn parse(bytes: &[u8]) -> Result<AttestationReport> {
        if bytes.len() < REPORT_LEN {
            return Err(SnpError::new(
                ErrorCode::ReportTooShort,
                format!(
                    "the SEV-SNP report has {} bytes; it must have {REPORT_LEN}",
                    bytes.len()
                ),
            ));
        }
        if bytes.len() > REPORT_LEN {
            return Err(SnpError::new(
                ErrorCode::ReportTooLong,
                format!(
                    "the SEV-SNP report has {} bytes; it must have {REPORT_LEN}",
                    bytes.len()
                ),
            ));
        }
        let raw = RawReport::ref_from_bytes(bytes).map_err(|_| {
            SnpError::new(
                ErrorCode::ReportTooShort,
                "the SEV-SNP report does not have the report layout",
            )
        })?;
        let mut owned = Box::new([0u8; REPORT_LEN]);
        owned.copy_from_slice(bytes);

        let version = ReportVersion::from_number(raw.version.get()).ok_or_else(|| {
            SnpError::new(
                ErrorCode::UnsupportedReportVersion,
                format!(
                    "report field VERSION is {}; versions 2 to 5 are supported",
                    raw.version.get()
                ),
            )
        })?;
        // 1 = ECDSA P-384 with SHA-384, the only algorithm the ABI defines.
        if raw.signature_algo.get() != 1 {
            return Err(SnpError::new(
                ErrorCode::UnsupportedSignatureAlgorithm,
                format!(
                    "report field SIGNATURE_ALGO is {}; only 1 (ECDSA P-384 with SHA-384) is defined",
                    raw.signature_algo.get()
                ),
            ));
        }
        let key_info = KeyInfo::parse(raw.key_info.get())?;
        // The signature's reserved tail is not covered by the signature: accepting other values
        // would let anyone change those bytes of a signed report.
        if raw._signature_reserved.iter().any(|b| *b != 0) {
            return Err(SnpError::new(
                ErrorCode::ReportSignatureMalformed,
                "report SIGNATURE has non-zero bytes in its reserved area (0x330..0x4A0)",
            ));
        }
        let cpuid = (version >= ReportVersion::V3).then_some(Cpuid {
            family: raw.cpuid_fam_id,
            model: raw.cpuid_mod_id,
            stepping: raw.cpuid_step,
        });
        let mitigation_vectors = (version >= ReportVersion::V5).then_some(MitigationVectors {
            launch: raw.launch_mit_vector.get(),
            current: raw.current_mit_vector.get(),
        });
        Ok(AttestationReport {
            version,
            guest_svn: raw.guest_svn.get(),
            policy: GuestPolicy(raw.policy.get()),
            family_id: raw.family_id,
            image_id: raw.image_id,
            vmpl: raw.vmpl.get(),
            current_tcb: TcbVersion(raw.current_tcb),
            platform_info: PlatformInfo(raw.platform_info.get()),
            key_info,
            report_data: raw.report_data,
            measurement: raw.measurement,
            host_data: raw.host_data,
            id_key_digest: raw.id_key_digest,
            author_key_digest: raw.author_key_digest,
            report_id: raw.report_id,
            report_id_ma: raw.report_id_ma,
            reported_tcb: TcbVersion(raw.reported_tcb),
            cpuid,
            chip_id: raw.chip_id,
            committed_tcb: TcbVersion(raw.committed_tcb),
            current_version: FirmwareVersion {
                major: raw.current_major,
                minor: raw.current_minor,
                build: raw.current_build,
            },
            committed_version: FirmwareVersion {
                major: raw.committed_major,
                minor: raw.committed_minor,
                build: raw.committed_build,
            },
            launch_tcb: TcbVersion(raw.launch_tcb),
            mitigation_vectors,
            signature: ReportSignature {
                r: raw.signature_r,
                s: raw.signature_s,
            },
            bytes: owned,
        })
    }

    /// The report as received.
    pub fn as_bytes(&self) -> &[u8; REPORT_LEN] {
        &self.bytes
    }

    /// The bytes the signature covers (0..0x2A0).
    pub fn signed_bytes(&self) -> &[u8] {
        &self.bytes[..SIGNED_LEN]
    }

    /// The generation the CPUID fields name: `Ok(None)` for a version 2 report or CPUID fields
    /// left zero, an error for a processor without an AMD root here.
    pub fn cpuid_generation(&self) -> Result<Option<Generation>> {
        let Some(c) = self.cpuid else { return Ok(None) };
        if c.family == 0 && c.model == 0 && c.stepping == 0 {
            return Ok(None);
        }
        Generation::from_cpuid(c.family, c.model).map(Some).ok_or_else(|| {
            SnpError::new(
                ErrorCode::UnknownProcessor,
                format!(
                    "report fields CPUID_FAM_ID {:#04x} / CPUID_MOD_ID {:#04x} name no SEV-SNP generation with an AMD root (Milan, Genoa, Turin)",
                    c.family, c.model
                ),
            )
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn blank(version: u32) -> Vec<u8> {
        let mut b = vec![0u8; REPORT_LEN];
        b[0..4].copy_from_slice(&version.to_le_bytes());
        b[0x34..0x38].copy_from_slice(&1u32.to_le_bytes());
        b
    }

    #[test]
    fn lengths_are_checked() {
        assert_eq!(
            AttestationReport::parse(&[0u8; 10]).unwrap_err().code,
            ErrorCode::ReportTooShort
        );
        assert_eq!(
            AttestationReport::parse(&vec![0u8; REPORT_LEN + 1]).unwrap_err().code,
            ErrorCode::ReportTooLong
        );
    }

    #[test]
    fn versions_and_algorithms() {
        for v in [0, 1, 6, u32::MAX] {
            assert_eq!(
                AttestationReport::parse(&blank(v)).unwrap_err().code,
                ErrorCode::UnsupportedReportVersion,
                "version {v}"
            );
        }
        let mut b = blank(2);
        b[0x34] = 2;
        assert_eq!(
            AttestationReport::parse(&b).unwrap_err().code,
            ErrorCode::UnsupportedSignatureAlgorithm
        );
        let r = AttestationReport::parse(&blank(2)).unwrap();
        assert_eq!(r.cpuid, None);
        assert_eq!(r.mitigation_vectors, None);
    }

    #[test]
    fn version_specific_fields() {
        let mut b = blank(5);
        b[0x188] = 0x1a;
        b[0x189] = 0x02;
        b[0x18a] = 0x01;
        b[0x1f8..0x200].copy_from_slice(&0x11u64.to_le_bytes());
        b[0x200..0x208].copy_from_slice(&0x33u64.to_le_bytes());
        let r = AttestationReport::parse(&b).unwrap();
        assert_eq!(r.version, ReportVersion::V5);
        assert_eq!(
            r.cpuid,
            Some(Cpuid {
                family: 0x1a,
                model: 2,
                stepping: 1
            })
        );
        assert_eq!(r.cpuid_generation().unwrap(), Some(Generation::Turin));
        assert_eq!(
            r.mitigation_vectors,
            Some(MitigationVectors {
                launch: 0x11,
                current: 0x33
            })
        );
        // A version 3 report does not interpret the mitigation vector bytes.
        b[0..4].copy_from_slice(&3u32.to_le_bytes());
        let r = AttestationReport::parse(&b).unwrap();
        assert_eq!(r.mitigation_vectors, None);
        assert!(r.cpuid.is_some());
        b[0x188] = 0x17;
        let r = AttestationReport::parse(&b).unwrap();
        assert_eq!(r.cpuid_generation().unwrap_err().code, ErrorCode::UnknownProcessor);
    }

    #[test]
    fn signature_reserved_area_must_be_zero() {
        let mut b = blank(2);
        b[REPORT_LEN - 1] = 1;
        assert_eq!(
            AttestationReport::parse(&b).unwrap_err().code,
            ErrorCode::ReportSignatureMalformed
        );
    }

    #[test]
    fn key_info_bits() {
        let mut b = blank(2);
        b[0x48] = 0b111;
        let r = AttestationReport::parse(&b).unwrap();
        assert_eq!(
            r.key_info,
            KeyInfo {
                author_key_en: true,
                mask_chip_key: true,
                signing_key: SigningKey::Vlek
            }
        );
        b[0x48] = 0b11100;
        assert_eq!(
            AttestationReport::parse(&b).unwrap().key_info.signing_key,
            SigningKey::None
        );
        b[0x48] = 0b01000;
        assert_eq!(
            AttestationReport::parse(&b).unwrap_err().code,
            ErrorCode::UnsupportedSigningKey
        );
    }

    #[test]
    fn policy_bits() {
        let p = GuestPolicy(0x000b_1f02);
        assert_eq!(p.abi_minor(), 2);
        assert_eq!(p.abi_major(), 0x1f);
        assert!(p.smt_allowed());
        assert!(!p.migrate_ma_allowed());
        assert!(p.debug_allowed());
        let p = GuestPolicy(0x30000 | (1 << 18));
        assert!(p.migrate_ma_allowed());
        assert!(!p.debug_allowed());
    }

    #[test]
    fn signature_is_converted_to_big_endian() {
        let mut sig = ReportSignature { r: [0; 72], s: [0; 72] };
        sig.r[0] = 1;
        sig.s[47] = 0xaa;
        let fixed = sig.to_fixed().unwrap();
        assert_eq!(fixed[47], 1);
        assert_eq!(fixed[48], 0xaa);
        sig.s[48] = 1;
        assert_eq!(sig.to_fixed().unwrap_err().code, ErrorCode::ReportSignatureMalformed);
    }
}
