"""The Azure SDK's isolated-mode flows: signed policies and policy management certificates."""

import hashlib

import pytest
from azure.core.exceptions import HttpResponseError
from azure.security.attestation import AttestationAdministrationClient, AttestationType
from cryptography.hazmat.primitives import serialization

from conftest import ISOLATED_TENANT, StaticCredential, client_kwargs

POLICY = "version=1.0; authorizationrules{=> permit();}; issuancerules{};"


def client(server):
    url = f"{server.url}/tenants/{ISOLATED_TENANT}"
    return AttestationAdministrationClient(url, StaticCredential("ignored"), **client_kwargs(server, url))


def der(cert):
    return cert.public_bytes(serialization.Encoding.DER)


def test_isolated_flows(server, signers):
    c = client(server)
    _, key1, cert1, pem1 = signers["signer-1"]
    _, key2, cert2, pem2 = signers["signer-2"]

    certs, _ = c.get_policy_management_certificates()
    assert len(certs) == 1
    assert certs[0][0] == pem1.strip() or "BEGIN CERTIFICATE" in certs[0][0]

    # Add signer-2, signed by signer-1.
    result, _ = c.add_policy_management_certificate(pem2, signing_key=key1, signing_certificate=pem1)
    assert result.certificate_resolution == "IsPresent"
    assert result.certificate_thumbprint == hashlib.sha1(der(cert2)).hexdigest().upper()
    certs, _ = c.get_policy_management_certificates()
    assert len(certs) == 2

    # A signed policy, by the new signer.
    result, _ = c.set_policy(AttestationType.SGX_ENCLAVE, POLICY, signing_key=key2, signing_certificate=pem2)
    assert result.policy_resolution == "Updated"
    assert result.policy_signer is not None
    policy, _ = c.get_policy(AttestationType.SGX_ENCLAVE)
    assert policy == POLICY

    result, _ = c.reset_policy(AttestationType.SGX_ENCLAVE, signing_key=key2, signing_certificate=pem2)
    assert result.policy_resolution == "Removed"

    # Remove signer-2 again (signed by signer-1); the last certificate cannot go.
    result, _ = c.remove_policy_management_certificate(pem2, signing_key=key1, signing_certificate=pem1)
    assert result.certificate_resolution == "IsAbsent"
    with pytest.raises(HttpResponseError) as e:
        c.remove_policy_management_certificate(pem1, signing_key=key1, signing_certificate=pem1)
    assert e.value.status_code == 400 and e.value.error.code == "InvalidOperation"


def test_unsigned_policy_is_rejected(server):
    with pytest.raises(HttpResponseError) as e:
        client(server).set_policy(AttestationType.SGX_ENCLAVE, POLICY)
    assert e.value.status_code == 400
    assert e.value.error.code == "UnsignedRequestRejected"


def test_policy_signed_by_an_unregistered_key_is_rejected(server, signers):
    _, key, _, pem = signers["stranger"]
    with pytest.raises(HttpResponseError) as e:
        client(server).set_policy(AttestationType.SGX_ENCLAVE, POLICY, signing_key=key, signing_certificate=pem)
    assert e.value.status_code == 403
    assert e.value.error.code == "SignerNotAuthorized"
