//! `/attest/AzureGuest`: MAA's `AttestationInfo` in, the `azurevm` appraisal out, with the token
//! sealed to the certified TPM encryption key when the guest sent one.

use std::sync::Arc;

use attestd_evidence::{AttestationType, Evidence, Verifier, VerifyContext, VerifyFuture};

use crate::{AttestationInfo, GuestVerifier, TransportSeal, claims};

/// The AzureGuest verifier.
#[derive(Debug, Clone)]
pub struct AzureGuestVerifier {
    guest: GuestVerifier,
}

impl AzureGuestVerifier {
    /// A verifier checking hardware reports with `guest`.
    pub fn new(guest: GuestVerifier) -> AzureGuestVerifier {
        AzureGuestVerifier { guest }
    }
}

impl Verifier for AzureGuestVerifier {
    fn attestation_types(&self) -> &'static [AttestationType] {
        &[AttestationType::AzureGuest]
    }

    fn verify<'a>(&'a self, evidence: &'a Evidence, ctx: &'a VerifyContext<'a>) -> VerifyFuture<'a> {
        Box::pin(async move {
            let info = AttestationInfo::parse(&evidence.bytes)?;
            let verified = self.guest.verify_info_with(info, ctx.configuration, ctx.now).await?;
            let mut appraisal = claims::info_appraisal(&verified);
            if let Some(key) = verified.enc_key {
                appraisal.seal = Some(Arc::new(TransportSeal::new(key)));
            }
            Ok(appraisal)
        })
    }
}
