//! AMD's certificate signatures: RSASSA-PSS with SHA-384, checked with aws-lc-rs directly over
//! the to-be-signed bytes.
//!
//! AMD encodes the PSS parameters with an explicit default trailer field, which path builders that
//! match AlgorithmIdentifiers byte for byte reject. The parameters are therefore decoded and
//! checked one by one: hash SHA-384, MGF1 with SHA-384, salt length 48, trailer field 1.

use aws_lc_rs::signature::{ParsedPublicKey, RSA_PSS_2048_8192_SHA384};
use x509_parser::signature_algorithm::RsaSsaPssParams;
use x509_parser::x509::AlgorithmIdentifier;

use crate::error::{ErrorCode, Result, SnpError};

const RSASSA_PSS: &str = "1.2.840.113549.1.1.10";
const MGF1: &str = "1.2.840.113549.1.1.8";
const SHA384: &str = "2.16.840.1.101.3.4.2.2";
const RSA_ENCRYPTION: &str = "1.2.840.113549.1.1.1";
/// SHA-384's output length, the salt length AMD uses.
const SALT_LEN: u32 = 48;

/// Checks that `alg` is RSASSA-PSS with exactly AMD's parameters; `what` names the object.
pub(crate) fn check_amd_pss(alg: &AlgorithmIdentifier<'_>, what: &str) -> Result<()> {
    let unsupported = |detail: String| {
        SnpError::new(
            ErrorCode::AmdSignatureAlgorithmUnsupported,
            format!("{what}: signature algorithm {detail}; AMD signs with RSASSA-PSS, SHA-384, MGF1-SHA-384, salt 48"),
        )
    };
    let oid = alg.algorithm.to_id_string();
    if oid != RSASSA_PSS {
        return Err(unsupported(format!("is {oid}")));
    }
    let params = alg
        .parameters
        .as_ref()
        .ok_or_else(|| unsupported("has no RSASSA-PSS parameters".into()))?;
    let params = RsaSsaPssParams::try_from(params)
        .map_err(|e| unsupported(format!("has undecodable RSASSA-PSS parameters ({e})")))?;
    let hash = params.hash_algorithm_oid().to_id_string();
    if hash != SHA384 {
        return Err(unsupported(format!("uses hash {hash}")));
    }
    let mgf = params
        .mask_gen_algorithm()
        .map_err(|e| unsupported(format!("has an undecodable mask generation function ({e})")))?;
    let (mgf_oid, mgf_hash) = (mgf.mgf.to_id_string(), mgf.hash.to_id_string());
    if mgf_oid != MGF1 || mgf_hash != SHA384 {
        return Err(unsupported(format!("uses mask generation {mgf_oid} with {mgf_hash}")));
    }
    if params.salt_length() != SALT_LEN {
        return Err(unsupported(format!("uses salt length {}", params.salt_length())));
    }
    if params.trailer_field() != 1 {
        return Err(unsupported(format!("uses trailer field {}", params.trailer_field())));
    }
    Ok(())
}

/// An AMD RSA public key (ARK, ASK, ASVK), parsed once for RSASSA-PSS-SHA384 verification.
pub(crate) struct RsaPssKey(ParsedPublicKey);

impl RsaPssKey {
    /// The key of a SubjectPublicKeyInfo whose algorithm is rsaEncryption or RSASSA-PSS.
    pub(crate) fn from_spki(spki: &x509_parser::x509::SubjectPublicKeyInfo<'_>, what: &str) -> Result<RsaPssKey> {
        let alg = spki.algorithm.algorithm.to_id_string();
        if alg != RSA_ENCRYPTION && alg != RSASSA_PSS {
            return Err(SnpError::new(
                ErrorCode::AmdCertificateMalformed,
                format!("{what}: public key algorithm is {alg}, not RSA"),
            ));
        }
        ParsedPublicKey::new(&RSA_PSS_2048_8192_SHA384, spki.subject_public_key.data.as_ref())
            .map(RsaPssKey)
            .map_err(|e| {
                SnpError::new(
                    ErrorCode::AmdCertificateMalformed,
                    format!("{what}: RSA public key rejected ({e})"),
                )
            })
    }

    /// Whether `signature` is a valid RSASSA-PSS-SHA384 signature of `message` by this key.
    pub(crate) fn verifies(&self, message: &[u8], signature: &[u8]) -> bool {
        self.0.verify_sig(message, signature).is_ok()
    }
}

impl std::fmt::Debug for RsaPssKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RsaPssKey")
    }
}
