//! Which Intel CA a PCK certificate names as its issuer. The FMSPC and the CA of a quote's own
//! PCK chain come from the verified chain (`attestd_dcap::QuoteVerifier::pck_chain`); this is
//! for collateral bundles, which name the CA in their PCK CRL issuer.

use attestd_dcap::PckCa;

/// The CA named by an Intel issuer common name.
pub fn ca_from_common_name(cn: &str) -> Option<PckCa> {
    if cn.contains("Processor") {
        Some(PckCa::Processor)
    } else if cn.contains("Platform") {
        Some(PckCa::Platform)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_names_name_the_ca() {
        assert_eq!(
            ca_from_common_name("Intel SGX PCK Processor CA"),
            Some(PckCa::Processor)
        );
        assert_eq!(ca_from_common_name("Intel SGX PCK Platform CA"), Some(PckCa::Platform));
        assert_eq!(ca_from_common_name("Intel SGX Root CA"), None);
    }
}
