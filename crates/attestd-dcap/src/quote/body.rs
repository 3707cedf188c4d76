//! The fixed-layout structures of a quote: header, SGX enclave report, TD reports (TDX 1.0 / 1.5).
//!
//! All multi-byte integers are little-endian. The layouts are Intel's `sgx_quote_header_t`,
//! `sgx_report_body_t` and the TDX quote body (`sgx_report2_body_t` / `_v1_5_t`).

use zerocopy::little_endian::{U16, U32};
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout, Unaligned};

/// Intel's QE vendor ID (`939A7233-F79C-4CA9-940A-0DB3957F0607`).
pub const INTEL_QE_VENDOR_ID: [u8; 16] = [
    0x93, 0x9a, 0x72, 0x33, 0xf7, 0x9c, 0x4c, 0xa9, 0x94, 0x0a, 0x0d, 0xb3, 0x95, 0x7f, 0x06, 0x07,
];

/// The 48-byte quote header.
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct QuoteHeader {
    version: U16,
    attestation_key_type: U16,
    tee_type: U32,
    qe_svn: U16,
    pce_svn: U16,
    qe_vendor_id: [u8; 16],
    user_data: [u8; 20],
}

impl QuoteHeader {
    /// The quote format version (3, 4 or 5).
    pub fn version(&self) -> u16 {
        self.version.get()
    }

    /// The attestation key type (2 = ECDSA-256 with P-256).
    pub fn attestation_key_type(&self) -> u16 {
        self.attestation_key_type.get()
    }

    /// The raw TEE type field (0x00 SGX, 0x81 TDX; reserved and zero in v3).
    pub fn tee_type_raw(&self) -> u32 {
        self.tee_type.get()
    }

    /// The QE's security version as the header states it (v3; reserved in v4/v5). Unsigned: the
    /// QE report's ISVSVN is the one to trust.
    pub fn qe_svn(&self) -> u16 {
        self.qe_svn.get()
    }

    /// The PCE's security version as the header states it (v3; reserved in v4/v5). Unsigned: the
    /// PCK certificate's PCESVN is the one to trust.
    pub fn pce_svn(&self) -> u16 {
        self.pce_svn.get()
    }

    /// The QE vendor ID.
    pub fn qe_vendor_id(&self) -> &[u8; 16] {
        &self.qe_vendor_id
    }

    /// Custom data of the QE (the first 16 bytes are the QE's platform identifier in Intel's QE).
    pub fn user_data(&self) -> &[u8; 20] {
        &self.user_data
    }
}

/// An SGX enclave report body (`sgx_report_body_t`, 384 bytes): the ISV enclave's report in SGX
/// quotes, and the QE report in every quote.
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct EnclaveReport {
    cpu_svn: [u8; 16],
    misc_select: [u8; 4],
    reserved1: [u8; 12],
    isv_ext_prod_id: [u8; 16],
    attributes: [u8; 16],
    mr_enclave: [u8; 32],
    reserved2: [u8; 32],
    mr_signer: [u8; 32],
    reserved3: [u8; 32],
    config_id: [u8; 64],
    isv_prod_id: U16,
    isv_svn: U16,
    config_svn: U16,
    reserved4: [u8; 42],
    isv_family_id: [u8; 16],
    report_data: [u8; 64],
}

impl EnclaveReport {
    /// The CPU security version of the platform when the report was made.
    pub fn cpu_svn(&self) -> &[u8; 16] {
        &self.cpu_svn
    }

    /// MISCSELECT as its 4 little-endian bytes (compared byte-wise against masks).
    pub fn misc_select_bytes(&self) -> &[u8; 4] {
        &self.misc_select
    }

    /// MISCSELECT as a number.
    pub fn misc_select(&self) -> u32 {
        u32::from_le_bytes(self.misc_select)
    }

    /// The extended product ID (Key Separation and Sharing).
    pub fn isv_ext_prod_id(&self) -> &[u8; 16] {
        &self.isv_ext_prod_id
    }

    /// ATTRIBUTES (flags in bytes 0..8, XFRM in 8..16).
    pub fn attributes(&self) -> &[u8; 16] {
        &self.attributes
    }

    /// Whether ATTRIBUTES.DEBUG (bit 1) is set.
    pub fn is_debug(&self) -> bool {
        self.attributes[0] & 0x02 != 0
    }

    /// MRENCLAVE.
    pub fn mr_enclave(&self) -> &[u8; 32] {
        &self.mr_enclave
    }

    /// MRSIGNER.
    pub fn mr_signer(&self) -> &[u8; 32] {
        &self.mr_signer
    }

    /// CONFIGID.
    pub fn config_id(&self) -> &[u8; 64] {
        &self.config_id
    }

    /// ISVPRODID.
    pub fn isv_prod_id(&self) -> u16 {
        self.isv_prod_id.get()
    }

    /// ISVSVN.
    pub fn isv_svn(&self) -> u16 {
        self.isv_svn.get()
    }

    /// CONFIGSVN.
    pub fn config_svn(&self) -> u16 {
        self.config_svn.get()
    }

    /// ISVFAMILYID.
    pub fn isv_family_id(&self) -> &[u8; 16] {
        &self.isv_family_id
    }

    /// REPORTDATA.
    pub fn report_data(&self) -> &[u8; 64] {
        &self.report_data
    }

    /// The 384 bytes of the report.
    pub fn as_bytes(&self) -> &[u8] {
        IntoBytes::as_bytes(self)
    }
}

/// A TD report body of TDX 1.0 (584 bytes).
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct TdReport10 {
    tee_tcb_svn: [u8; 16],
    mr_seam: [u8; 48],
    mr_signer_seam: [u8; 48],
    seam_attributes: [u8; 8],
    td_attributes: [u8; 8],
    xfam: [u8; 8],
    mr_td: [u8; 48],
    mr_config_id: [u8; 48],
    mr_owner: [u8; 48],
    mr_owner_config: [u8; 48],
    rtmr: [[u8; 48]; 4],
    report_data: [u8; 64],
}

impl TdReport10 {
    /// TEE_TCB_SVN: byte 0 the SEAM module's minor SVN, byte 1 its major version, the rest the
    /// TDX TCB components.
    pub fn tee_tcb_svn(&self) -> &[u8; 16] {
        &self.tee_tcb_svn
    }

    /// MRSEAM: the measurement of the TDX module.
    pub fn mr_seam(&self) -> &[u8; 48] {
        &self.mr_seam
    }

    /// MRSIGNERSEAM: the signer of the TDX module (zero for Intel's).
    pub fn mr_signer_seam(&self) -> &[u8; 48] {
        &self.mr_signer_seam
    }

    /// SEAMATTRIBUTES.
    pub fn seam_attributes(&self) -> &[u8; 8] {
        &self.seam_attributes
    }

    /// TDATTRIBUTES (bit 0 = DEBUG, bit 28 = SEPT_VE_DISABLE, ...).
    pub fn td_attributes(&self) -> &[u8; 8] {
        &self.td_attributes
    }

    /// Whether TDATTRIBUTES.DEBUG (bit 0) is set.
    pub fn is_debug(&self) -> bool {
        self.td_attributes[0] & 0x01 != 0
    }

    /// XFAM.
    pub fn xfam(&self) -> &[u8; 8] {
        &self.xfam
    }

    /// MRTD: the initial measurement of the TD.
    pub fn mr_td(&self) -> &[u8; 48] {
        &self.mr_td
    }

    /// MRCONFIGID.
    pub fn mr_config_id(&self) -> &[u8; 48] {
        &self.mr_config_id
    }

    /// MROWNER.
    pub fn mr_owner(&self) -> &[u8; 48] {
        &self.mr_owner
    }

    /// MROWNERCONFIG.
    pub fn mr_owner_config(&self) -> &[u8; 48] {
        &self.mr_owner_config
    }

    /// RTMR0..RTMR3.
    pub fn rtmr(&self) -> &[[u8; 48]; 4] {
        &self.rtmr
    }

    /// REPORTDATA.
    pub fn report_data(&self) -> &[u8; 64] {
        &self.report_data
    }
}

/// A TD report body of TDX 1.5 (648 bytes): the TDX 1.0 body, then TEE_TCB_SVN2 and MRSERVICETD.
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct TdReport15 {
    base: TdReport10,
    tee_tcb_svn2: [u8; 16],
    mr_service_td: [u8; 48],
}

impl TdReport15 {
    /// The fields shared with TDX 1.0.
    pub fn base(&self) -> &TdReport10 {
        &self.base
    }

    /// TEE_TCB_SVN2: the TCB SVN of the TDX module after a TD-preserving update.
    pub fn tee_tcb_svn2(&self) -> &[u8; 16] {
        &self.tee_tcb_svn2
    }

    /// MRSERVICETD: the measurement of the bound service TDs (zero if none).
    pub fn mr_service_td(&self) -> &[u8; 48] {
        &self.mr_service_td
    }
}

/// The report a quote attests to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReportBody {
    /// An SGX enclave (quotes v3, v4 with TEE type SGX, v5 body type 1).
    Sgx(EnclaveReport),
    /// A TDX 1.0 trust domain (v4 with TEE type TDX, v5 body type 2).
    Td10(TdReport10),
    /// A TDX 1.5 trust domain (v5 body type 3).
    Td15(TdReport15),
}

impl ReportBody {
    /// The SGX enclave report, if this is one.
    pub fn as_sgx(&self) -> Option<&EnclaveReport> {
        match self {
            ReportBody::Sgx(r) => Some(r),
            _ => None,
        }
    }

    /// The TDX 1.0 part of a TD report (for 1.0 and 1.5 bodies).
    pub fn as_td(&self) -> Option<&TdReport10> {
        match self {
            ReportBody::Sgx(_) => None,
            ReportBody::Td10(r) => Some(r),
            ReportBody::Td15(r) => Some(&r.base),
        }
    }

    /// The TDX 1.5 report, if this is one.
    pub fn as_td15(&self) -> Option<&TdReport15> {
        match self {
            ReportBody::Td15(r) => Some(r),
            _ => None,
        }
    }

    /// REPORTDATA of the body.
    pub fn report_data(&self) -> &[u8; 64] {
        match self {
            ReportBody::Sgx(r) => r.report_data(),
            ReportBody::Td10(r) => r.report_data(),
            ReportBody::Td15(r) => r.base.report_data(),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::mem::size_of;

    use super::*;

    #[test]
    fn layouts_have_intels_sizes() {
        assert_eq!(size_of::<QuoteHeader>(), 48);
        assert_eq!(size_of::<EnclaveReport>(), 384);
        assert_eq!(size_of::<TdReport10>(), 584);
        assert_eq!(size_of::<TdReport15>(), 648);
    }
}
