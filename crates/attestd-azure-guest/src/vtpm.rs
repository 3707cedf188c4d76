//! The vTPM quote of an Azure CVM: a `TPMS_ATTEST` signed (RSASSA-PKCS1-v1_5, SHA-256) by the
//! vTPM's attestation key, whose public key the HCL runtime data carries as `HCLAkPub`.

use attestd_evidence::EvidenceError;
use attestd_tpm::eventlog::HashAlg;
use attestd_tpm::quote::Quote;
use aws_lc_rs::signature::{RSA_PKCS1_2048_8192_SHA256, RsaPublicKeyComponents};

use crate::ErrorCode;

/// A vTPM quote as the guest sends it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VtpmQuote {
    /// The signed `TPMS_ATTEST`.
    pub message: Vec<u8>,
    /// The raw RSA signature.
    pub signature: Vec<u8>,
    /// The SHA-256 PCR bank, by index.
    pub pcrs: Vec<Vec<u8>>,
}

impl VtpmQuote {
    /// Verifies the signature by the attestation key (`n`, `e`), that `extraData` is `nonce` (when
    /// one is given) and that the PCR values hash to the quoted digest; returns the quoted
    /// (index, value) pairs.
    pub fn verify(
        &self,
        (n, e): (Vec<u8>, Vec<u8>),
        nonce: Option<&[u8]>,
    ) -> Result<Vec<(u32, Vec<u8>)>, EvidenceError> {
        let key = RsaPublicKeyComponents { n: &n, e: &e };
        key.verify(&RSA_PKCS1_2048_8192_SHA256, &self.message, &self.signature)
            .map_err(|_| {
                ErrorCode::VtpmQuoteSignatureInvalid
                    .error("the vTPM quote signature does not verify under the HCL attestation key 'HCLAkPub'")
            })?;
        let quote = Quote::parse(&self.message).map_err(|e| EvidenceError::invalid(e.code, e.message))?;
        if let Some(nonce) = nonce {
            quote
                .check_nonce(nonce)
                .map_err(|_| ErrorCode::VtpmQuoteNonceMismatch.error("the vTPM quote's extraData is not the nonce"))?;
        }
        let mut quoted = Vec::new();
        for (bank, indices) in &quote.pcr_select {
            if *bank != HashAlg::Sha256 {
                return Err(ErrorCode::VtpmPcrMismatch.error(format!(
                    "the vTPM quote covers the {} bank; Azure CVMs quote SHA-256",
                    bank.name()
                )));
            }
            for &i in indices {
                let value = usize::try_from(i)
                    .ok()
                    .and_then(|i| self.pcrs.get(i))
                    .filter(|v| v.len() == 32)
                    .ok_or_else(|| {
                        ErrorCode::VtpmPcrMismatch.error(format!(
                            "the quote covers PCR {i}, whose 32-byte SHA-256 value was not sent"
                        ))
                    })?;
                quoted.push((i, value.clone()));
            }
        }
        quote
            .check_pcrs(HashAlg::Sha256, &|_, i| {
                quoted.iter().find(|(j, _)| *j == i).map(|(_, v)| v.clone())
            })
            .map_err(|e| ErrorCode::VtpmPcrMismatch.error(e.message))?;
        quoted.sort_by_key(|(i, _)| *i);
        Ok(quoted)
    }
}
