"""The Azure Attestation SDK's discovery calls against attestd, at the root and at a tenant."""

import base64
import hashlib

import pytest
from azure.security.attestation import AttestationClient
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from conftest import TENANT, FakeCredential, client_kwargs


def maa_kid(cert: x509.Certificate) -> str:
    """MAA's kid rule, recomputed independently: base64(SHA-256(PEM(SPKI) + NUL))."""
    pem = cert.public_key().public_bytes(serialization.Encoding.PEM,
                                         serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(hashlib.sha256(pem + b"\0").digest()).decode()


@pytest.fixture(params=["root", "tenant"])
def endpoint(request, server):
    return server.url if request.param == "root" else f"{server.url}/tenants/{TENANT}"


def test_get_openid_metadata(server, endpoint):
    client = AttestationClient(endpoint, FakeCredential(), **client_kwargs(server, endpoint))
    md = client.get_open_id_metadata()
    assert md["issuer"] == endpoint
    assert md["jwks_uri"] == endpoint + "/certs"
    assert md["revocation_endpoint"] == endpoint + "/revoke"
    assert md["response_types_supported"] == ["token", "none"]
    assert md["id_token_signing_alg_values_supported"] == ["RS256"]
    assert "x-ms-attestation-type" in md["claims_supported"]


def test_get_signing_certificates(server, endpoint):
    client = AttestationClient(endpoint, FakeCredential(), **client_kwargs(server, endpoint))
    signers = client.get_signing_certificates()
    assert len(signers) == 1
    signer = signers[0]
    # The SDK returns PEM certificates; parse them with an independent X.509 library.
    cert = x509.load_pem_x509_certificate(signer.certificates[0].encode())
    assert signer.key_id == maa_kid(cert)
    cn = cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value
    assert cn == endpoint, "the signing certificate is issued to the issuer URL"
    assert cert.issuer == cert.subject


def test_tenant_and_root_keys_differ(server):
    root = AttestationClient(server.url, FakeCredential(), **client_kwargs(server, server.url))
    t = f"{server.url}/tenants/{TENANT}"
    tenant = AttestationClient(t, FakeCredential(), **client_kwargs(server, t))
    assert root.get_signing_certificates()[0].key_id != tenant.get_signing_certificates()[0].key_id
