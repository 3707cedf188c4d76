//! The ephemeral encryption key of an Azure guest attestation: a TPM RSA key (decrypt only,
//! bound to the quoted PCRs by its policy) that the attestation key certifies with TPM2_Certify,
//! so that only this vTPM, in this state, can open the token MAA seals to it.

use attestd_evidence::EvidenceError;
use attestd_tpm::quote::{AkPublic, PublicKey};
use aws_lc_rs::signature::{RSA_PKCS1_2048_8192_SHA256, RsaPublicKeyComponents};

use crate::ErrorCode;

const TPM_GENERATED_VALUE: u32 = 0xff54_4347;
const TPM_ST_ATTEST_CERTIFY: u16 = 0x8017;

/// An RSA public key (big-endian modulus and exponent).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RsaPublicKey {
    /// The modulus.
    pub n: Vec<u8>,
    /// The public exponent.
    pub e: Vec<u8>,
    /// The key as a DER SubjectPublicKeyInfo.
    pub spki: Vec<u8>,
}

fn invalid(message: impl Into<String>) -> EvidenceError {
    ErrorCode::EncKeyCertificationInvalid.error(message)
}

/// The `TPMT_PUBLIC` inside a `TPM2B_PUBLIC`.
pub(crate) fn tpmt_public(tpm2b: &[u8], field: &str) -> Result<AkPublic, EvidenceError> {
    let (size, rest) = tpm2b
        .split_first_chunk::<2>()
        .ok_or_else(|| invalid(format!("{field} is not a TPM2B_PUBLIC")))?;
    if usize::from(u16::from_be_bytes(*size)) != rest.len() {
        return Err(invalid(format!(
            "{field}: the TPM2B_PUBLIC size is not the length of its TPMT_PUBLIC"
        )));
    }
    AkPublic::parse(rest).map_err(|e| invalid(format!("{field}: {}", e.message)))
}

/// The RSA key of a parsed `TPMT_PUBLIC`.
pub(crate) fn rsa_key(key: &AkPublic, field: &str) -> Result<RsaPublicKey, EvidenceError> {
    match &key.key {
        PublicKey::Rsa { n, e } => Ok(RsaPublicKey {
            n: n.clone(),
            e: e.to_be_bytes().iter().copied().skip_while(|b| *b == 0).collect(),
            spki: key.key.spki_der(),
        }),
        _ => Err(invalid(format!("{field} is not an RSA key"))),
    }
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], EvidenceError> {
        if self.0.len() < n {
            return Err(invalid("EncKeyCertifyInfo is truncated"));
        }
        let (head, tail) = self.0.split_at(n);
        self.0 = tail;
        Ok(head)
    }

    fn u16(&mut self) -> Result<u16, EvidenceError> {
        let b = self.take(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    fn tpm2b(&mut self) -> Result<&'a [u8], EvidenceError> {
        let n = usize::from(self.u16()?);
        self.take(n)
    }
}

/// Checks that `certify_info` (a `TPMS_ATTEST` of type certify) is signed (RSASSA-PKCS1-v1_5,
/// SHA-256) by `ak` and names `enc_key_pub` (a `TPM2B_PUBLIC`); returns the encryption key.
pub(crate) fn certified_key(
    ak: &RsaPublicKey,
    enc_key_pub: &[u8],
    certify_info: &[u8],
    signature: &[u8],
) -> Result<RsaPublicKey, EvidenceError> {
    RsaPublicKeyComponents { n: &ak.n, e: &ak.e }
        .verify(&RSA_PKCS1_2048_8192_SHA256, certify_info, signature)
        .map_err(|_| invalid("EncKeyCertifyInfoSignature does not verify under the attestation key"))?;
    let mut r = Reader(certify_info);
    let magic = r.take(4)?;
    if magic != TPM_GENERATED_VALUE.to_be_bytes() {
        return Err(invalid("EncKeyCertifyInfo.magic is not TPM_GENERATED_VALUE"));
    }
    if r.u16()? != TPM_ST_ATTEST_CERTIFY {
        return Err(invalid("EncKeyCertifyInfo.type is not TPM_ST_ATTEST_CERTIFY"));
    }
    r.tpm2b()?; // qualifiedSigner
    r.tpm2b()?; // extraData
    r.take(17 + 8)?; // clockInfo, firmwareVersion
    let name = r.tpm2b()?;
    r.tpm2b()?; // qualifiedName
    if !r.0.is_empty() {
        return Err(invalid("EncKeyCertifyInfo has trailing bytes"));
    }
    let key = tpmt_public(enc_key_pub, "EncKeyPub")?;
    if name != key.name.as_slice() {
        return Err(invalid(
            "EncKeyCertifyInfo certifies another key than EncKeyPub (TPM names differ)",
        ));
    }
    rsa_key(&key, "EncKeyPub")
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use aws_lc_rs::rand::SystemRandom;
    use aws_lc_rs::rsa::{KeyPair, KeySize, PublicKeyComponents};
    use aws_lc_rs::signature::{KeyPair as _, RSA_PKCS1_SHA256};

    use attestd_testkit::azure::tpm2b_public;

    fn certify_info(name: &[u8]) -> Vec<u8> {
        let mut c = TPM_GENERATED_VALUE.to_be_bytes().to_vec();
        c.extend(TPM_ST_ATTEST_CERTIFY.to_be_bytes());
        c.extend(0u16.to_be_bytes()); // qualifiedSigner
        c.extend(0u16.to_be_bytes()); // extraData
        c.extend([0u8; 25]); // clockInfo, firmwareVersion
        c.extend(u16::try_from(name.len()).unwrap().to_be_bytes());
        c.extend(name);
        c.extend(0u16.to_be_bytes()); // qualifiedName
        c
    }

    #[test]
    fn a_key_certified_by_the_ak_is_returned_and_anything_else_refused() {
        let ak = KeyPair::generate(KeySize::Rsa2048).unwrap();
        let parts: PublicKeyComponents<Vec<u8>> = ak.public_key().into();
        let ak_pub = RsaPublicKey {
            n: parts.n.clone(),
            e: parts.e.clone(),
            spki: Vec::new(),
        };
        let enc = tpm2b_public(&[0xc5; 256]);
        let name = tpmt_public(&enc, "EncKeyPub").unwrap().name;
        let sign = |msg: &[u8]| {
            let mut sig = vec![0u8; ak.public_modulus_len()];
            ak.sign(&RSA_PKCS1_SHA256, &SystemRandom::new(), msg, &mut sig).unwrap();
            sig
        };
        let info = certify_info(&name);
        let key = certified_key(&ak_pub, &enc, &info, &sign(&info)).unwrap();
        assert_eq!(key.n, vec![0xc5; 256]);
        assert_eq!(key.e, vec![1, 0, 1]);

        let code = |enc: &[u8], info: &[u8], sig: &[u8]| certified_key(&ak_pub, enc, info, sig).unwrap_err().code;
        // Signed by the AK but naming another key.
        let other = certify_info(&tpmt_public(&tpm2b_public(&[0x11; 256]), "k").unwrap().name);
        assert_eq!(code(&enc, &other, &sign(&other)), "EncKeyCertificationInvalid");
        // Not signed by the AK.
        assert_eq!(code(&enc, &info, &[0u8; 256]), "EncKeyCertificationInvalid");
        // Another structure type, signed.
        let mut quote_type = info.clone();
        quote_type[5] = 0x18;
        assert_eq!(
            code(&enc, &quote_type, &sign(&quote_type)),
            "EncKeyCertificationInvalid"
        );
        // Truncated, signed.
        let short = &info[..20];
        assert_eq!(code(&enc, short, &sign(short)), "EncKeyCertificationInvalid");
        // A TPM2B whose size lies.
        let mut lying = enc.clone();
        lying[1] ^= 1;
        assert_eq!(code(&lying, &info, &sign(&info)), "EncKeyCertificationInvalid");
    }
}
