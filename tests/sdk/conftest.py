"""Fixtures: a real `attestd serve` over HTTPS and Azure SDK clients pointed at it."""

import os
import pathlib
import subprocess
import tempfile
import threading
import time

import base64
import datetime
import json

import pytest
from azure.core.credentials import AccessToken
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

ROOT = pathlib.Path(__file__).resolve().parents[2]
BIN = pathlib.Path(os.environ.get("ATTESTD_BIN", ROOT / "target" / "debug" / "attestd"))
TENANT = "sdk1"
TOKEN_TENANT = "tok"
ISOLATED_TENANT = "iso"
ISSUER = "https://issuer.attestd.test"
AUDIENCE = "https://attest.attestd.test"


def b64u(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class Pki:
    """RSA keys and self-signed CA certificates made for the tests (what MAA's docs use as signers)."""

    @staticmethod
    def signer(name, days=365, not_before_days=-1):
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        now = datetime.datetime.now(datetime.timezone.utc)
        cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
                .public_key(key.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(now + datetime.timedelta(days=not_before_days))
                .not_valid_after(now + datetime.timedelta(days=days))
                .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                .sign(key, hashes.SHA256()))
        key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption()).decode()
        return key, key_pem, cert, cert.public_bytes(serialization.Encoding.PEM).decode()


class TestIssuer:
    """An OIDC-style token issuer for the token trust model: an RSA key, its JWKS, and JWTs."""

    def __init__(self):
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        n = self.key.public_key().public_numbers()
        self.jwks = {"keys": [{"kty": "RSA", "kid": "test-key-1", "use": "sig",
                               "n": b64u(n.n.to_bytes((n.n.bit_length() + 7) // 8, "big")),
                               "e": b64u(n.e.to_bytes(3, "big"))}]}

    def token(self, roles=("Attestation.Contributor",), audience=AUDIENCE, issuer=ISSUER,
              lifetime=3600, key=None, kid="test-key-1"):
        now = int(time.time())
        header = {"alg": "RS256", "kid": kid, "typ": "JWT"}
        body = {"iss": issuer, "aud": audience, "sub": "test-operator", "iat": now, "nbf": now,
                "exp": now + lifetime, "roles": list(roles)}
        signing_input = f"{b64u(json.dumps(header).encode())}.{b64u(json.dumps(body).encode())}"
        sig = (key or self.key).sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
        return f"{signing_input}.{b64u(sig)}"


class StaticCredential:
    """A TokenCredential that hands out one fixed bearer token."""

    def __init__(self, token):
        self._token = token

    def get_token(self, *scopes, **kwargs):
        return AccessToken(self._token, int(time.time()) + 3600)


class FakeCredential:
    """Any bearer token: attestd ignores it on anonymous endpoints."""

    def get_token(self, *scopes, **kwargs):
        return AccessToken("not-a-real-token", int(time.time()) + 3600)


class Server:
    def __init__(self, data_dir):
        self.data_dir = pathlib.Path(data_dir)
        self.ca = self.data_dir / "tls" / "cert.pem"
        self.url = None
        self.proc = None
        self.log = self.data_dir.parent / "server.log"

    def cli(self, *args):
        out = subprocess.run([str(BIN), *args, "--data-dir", str(self.data_dir)],
                             capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stdout + out.stderr
        return out.stdout

    def start(self):
        self.proc = subprocess.Popen(
            [str(BIN), "serve", "--listen", "127.0.0.1:0", "--data-dir", str(self.data_dir)],
            stdout=subprocess.PIPE, stderr=open(self.log, "ab"), text=True)
        deadline = time.time() + 60
        while time.time() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                break
            if line.startswith("attestd listening on "):
                self.url = line.split("attestd listening on ", 1)[1].strip()
                # Keep draining stdout so the server never blocks on a full pipe.
                threading.Thread(target=self.proc.stdout.read, daemon=True).start()
                return
        self.stop()
        raise RuntimeError("attestd did not start:\n" + self.log.read_text())

    def stop(self):
        if self.proc:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture(scope="session")
def issuer():
    return TestIssuer()


@pytest.fixture(scope="session")
def signers():
    """Two registered policy management certificates of the isolated tenant, and one stranger."""
    return {name: Pki.signer(name) for name in ("signer-1", "signer-2", "stranger")}


@pytest.fixture(scope="session")
def server(issuer, signers):
    assert BIN.exists(), f"build attestd first ({BIN}); scripts/test does"
    with tempfile.TemporaryDirectory() as tmp:
        s = Server(pathlib.Path(tmp) / "data")
        s.start()
        s.cli("provider", "create", TENANT, "--public-url", s.url)
        jwks = pathlib.Path(tmp) / "issuer-jwks.json"
        jwks.write_text(json.dumps(issuer.jwks))
        s.cli("provider", "create", TOKEN_TENANT, "--public-url", s.url, "--trust-model", "token",
              "--auth-issuer", ISSUER, "--auth-audience", AUDIENCE, "--auth-jwks-file", str(jwks))
        cert1 = pathlib.Path(tmp) / "signer-1.pem"
        cert1.write_text(signers["signer-1"][3])
        s.cli("provider", "create", ISOLATED_TENANT, "--public-url", s.url, "--trust-model", "isolated",
              "--signer-cert", str(cert1))
        yield s
        s.stop()


def client_kwargs(server, issuer):
    """Strict client settings: the SDK checks little by itself (reference azure-sdk-client.md §6)."""
    return dict(connection_verify=str(server.ca), retry_total=0, validate_token=True,
                validate_signature=True, validate_expiration=True, validate_issuer=True,
                issuer=issuer, validation_slack=5)
