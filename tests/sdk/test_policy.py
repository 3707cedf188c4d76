"""The Azure SDK's policy calls against a token-mode provider (MAA's AAD mode), over HTTPS."""

import base64
import hashlib

import pytest
from azure.core.exceptions import ClientAuthenticationError, HttpResponseError
from azure.security.attestation import (AttestationAdministrationClient, AttestationToken,
                                        AttestationType)

from conftest import ISOLATED_TENANT, TOKEN_TENANT, TENANT, StaticCredential, b64u, client_kwargs

POLICY = "version=1.0; authorizationrules{=> permit();}; issuancerules{};"
# MAA's legacy shared default; its x-ms-policy-hash is a published constant (reference B.8).
SHARED_DEFAULT_HASH = "egjnANIzEpS2WgpE4Nk-QEwM69XRCgTs42_G0qLlbnk"


def admin(server, tenant, credential):
    url = f"{server.url}/tenants/{tenant}" if tenant else server.url
    return AttestationAdministrationClient(url, credential, **client_kwargs(server, url))


def test_shared_default_policy(server, issuer):
    client = admin(server, None, StaticCredential("ignored"))
    policy, token = client.get_policy(AttestationType.SGX_ENCLAVE)
    assert policy.startswith('version= 1.0;authorizationrules{c:[type=="$is-debuggable"] => permit();};')
    digest = hashlib.sha256(b64u(policy.encode()).encode()).digest()
    assert b64u(digest) == SHARED_DEFAULT_HASH


def test_shared_provider_refuses_writes(server):
    client = admin(server, TENANT, StaticCredential("ignored"))
    with pytest.raises(HttpResponseError) as e:
        client.set_policy(AttestationType.SGX_ENCLAVE, POLICY)
    assert e.value.status_code == 403
    assert e.value.error.code == "ReadOnlyProvider"


def test_get_set_reset_unsigned(server, issuer):
    client = admin(server, TOKEN_TENANT, StaticCredential(issuer.token()))
    result, _ = client.set_policy(AttestationType.SGX_ENCLAVE, POLICY)
    sent = AttestationToken(body={"AttestationPolicy": b64u(POLICY.encode())}).to_jwt_string()
    assert result.policy_resolution == "Updated"
    assert result.policy_token_hash == hashlib.sha256(sent.encode()).digest()
    policy, _ = client.get_policy(AttestationType.SGX_ENCLAVE)
    assert policy == POLICY
    reset, _ = client.reset_policy(AttestationType.SGX_ENCLAVE)
    assert reset.policy_resolution == "Removed"
    policy, _ = client.get_policy(AttestationType.SGX_ENCLAVE)
    assert policy != POLICY, "the default applies again"


def test_tpm_has_no_default_policy(server, issuer):
    client = admin(server, TOKEN_TENANT, StaticCredential(issuer.token(roles=["Attestation.Reader"])))
    policy, _ = client.get_policy(AttestationType.TPM)
    assert policy == ""


def test_invalid_policy_is_a_parsing_error(server, issuer):
    client = admin(server, TOKEN_TENANT, StaticCredential(issuer.token()))
    with pytest.raises(HttpResponseError) as e:
        client.set_policy(AttestationType.SGX_ENCLAVE,
                          'version=1.0;\nauthorizationrules {\n  [type=="a"] [type=="b"] => permit();\n};')
    assert e.value.status_code == 400
    assert e.value.error.code == "PolicyParsingError"
    assert "line 3, column 15" in e.value.error.message
    assert "expected '&&' or '=>'" in e.value.error.message


@pytest.mark.parametrize("make", [
    lambda i: "not-a-jwt",
    lambda i: i.token(audience="https://someone-else.test"),
    lambda i: i.token(issuer="https://evil.test"),
    lambda i: i.token(lifetime=-3600),
    lambda i: i.token(kid="unknown-key"),
])
def test_token_provider_rejects_bad_credentials(server, issuer, make):
    client = admin(server, TOKEN_TENANT, StaticCredential(make(issuer)))
    with pytest.raises(ClientAuthenticationError) as e:
        client.get_policy(AttestationType.SGX_ENCLAVE)
    assert e.value.status_code == 401


def test_reader_role_cannot_write(server, issuer):
    client = admin(server, TOKEN_TENANT, StaticCredential(issuer.token(roles=["Attestation.Reader"])))
    client.get_policy(AttestationType.SGX_ENCLAVE)
    with pytest.raises(HttpResponseError) as e:
        client.set_policy(AttestationType.SGX_ENCLAVE, POLICY)
    assert e.value.status_code == 403


def test_a_token_for_one_tenant_cannot_manage_another(server, issuer):
    # The isolated tenant has no token issuer: the token tenant's credential grants nothing there.
    client = admin(server, ISOLATED_TENANT, StaticCredential(issuer.token()))
    with pytest.raises(HttpResponseError) as e:
        client.set_policy(AttestationType.SGX_ENCLAVE, POLICY)
    assert e.value.error.code == "UnsignedRequestRejected"
