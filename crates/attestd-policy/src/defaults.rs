//! Built-in default policies (reference B.8).

/// MAA's legacy default for SgxEnclave and OpenEnclave, still served by MAA's shared providers.
/// Its `x-ms-policy-hash` is `egjnANIzEpS2WgpE4Nk-QEwM69XRCgTs42_G0qLlbnk`; the text must stay
/// byte-exact.
pub const SHARED_LEGACY: &str = "version= 1.0;authorizationrules{c:[type==\"$is-debuggable\"] => permit();};issuancerules{c:[type==\"$is-debuggable\"] => issue(type=\"is-debuggable\", value=c.value);c:[type==\"$sgx-mrsigner\"] => issue(type=\"sgx-mrsigner\", value=c.value);c:[type==\"$sgx-mrenclave\"] => issue(type=\"sgx-mrenclave\", value=c.value);c:[type==\"$product-id\"] => issue(type=\"product-id\", value=c.value);c:[type==\"$svn\"] => issue(type=\"svn\", value=c.value);c:[type==\"$tee\"] => issue(type=\"tee\", value=c.value);};";

/// MAA's current default SGX policy for custom providers ("Default policy for an SGX enclave").
pub const SGX_DEFAULT: &str = "version= 1.1;
configurationrules{
\t=> issueproperty(type=\"x-ms-sgx-tcbidentifier\", value=\"azuredefault\");
};
authorizationrules{
\t=> permit();
};
issuancerules{
\tc:[type==\"x-ms-sgx-is-debuggable\"] => issue(type=\"is-debuggable\", value=c.value);
\tc:[type==\"x-ms-sgx-mrsigner\"] => issue(type=\"sgx-mrsigner\", value=c.value);
\tc:[type==\"x-ms-sgx-mrenclave\"] => issue(type=\"sgx-mrenclave\", value=c.value);
\tc:[type==\"x-ms-sgx-product-id\"] => issue(type=\"product-id\", value=c.value);
\tc:[type==\"x-ms-sgx-svn\"] => issue(type=\"svn\", value=c.value);
\tc:[type==\"x-ms-attestation-type\"] => issue(type=\"tee\", value=c.value);
};";

/// attestd's default for the confidential-VM types (SevSnpVm, TdxVm, AzureGuest), whose MAA
/// defaults are not published: permit every report that verified (hardware, signatures, TCB
/// status and bindings are checked before the policy runs) and issue nothing, which matches the
/// claim sets of MAA's example tokens for these types. Tenants who need to pin measurements set
/// their own policy.
pub const CONFIDENTIAL_VM_DEFAULT: &str = "version= 1.0;authorizationrules{=> permit();};issuancerules{};";

/// The built-in default for an attestation type named as in MAA's URLs (`SgxEnclave`, …), for a
/// provider that is not the shared one. `None` for `Tpm`, which MAA provisions without a policy:
/// attesting a TPM requires the tenant to set one.
pub fn for_type(attestation_type: &str) -> Option<&'static str> {
    match attestation_type {
        "SgxEnclave" | "OpenEnclave" => Some(SGX_DEFAULT),
        "SevSnpVm" | "TdxVm" | "AzureGuest" => Some(CONFIDENTIAL_VM_DEFAULT),
        _ => None,
    }
}
