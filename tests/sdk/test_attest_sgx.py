"""The Azure SDK's SGX and Open Enclave attestation against attestd, on the real clock.

Real SGX hardware quotes come with collateral that has long expired, so the enclave evidence here is
made by an independent test CA written with `cryptography` (root, PCK Processor CA, PCK certificate
with Intel's SGX extension, TCB signer, signed TCB info and QE identity, CRLs; quote v3 signed by an
attestation key whose QE report is signed by the PCK key). The server trusts that root through
`--insecure-test-sgx-root`, and the collateral is imported with `attestd collateral import`.
"""

import base64
import datetime
import hashlib
import json
import pathlib
import subprocess
import tempfile
import threading
import time

import pytest
from azure.core.exceptions import HttpResponseError
from azure.security.attestation import AttestationClient
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.x509.oid import NameOID

from conftest import BIN, FakeCredential, Server, client_kwargs

SGX_OID = "1.2.840.113741.1.13.1"
SGX_OID_DER = bytes([0x2A, 0x86, 0x48, 0x86, 0xF8, 0x4D, 0x01, 0x0D, 0x01])
QE_VENDOR_ID = bytes.fromhex("939a7233f79c4ca9940a0db3957f0607")
FMSPC = bytes.fromhex("50A0FF000001")
COMPONENTS = bytes([6, 6, 2, 2, 3, 1, 0, 3] + [0] * 8)
PCE_SVN = 12
QE_MRSIGNER = bytes([0x8C] * 32)
MRENCLAVE = bytes(range(32))
MRSIGNER = bytes(range(32, 64))
RUNTIME = b'{"jwk": {"kty": "EC", "crv": "P-256", "x": "AA", "y": "BB"}}'
PERMIT = "version=1.0; authorizationrules{=> permit();}; issuancerules{};"
DENY = ('version=1.0; authorizationrules{ [type=="x-ms-sgx-mrsigner", value=="00"] => permit(); }; '
        'issuancerules{};')


def der(tag, content):
    n = len(content)
    if n < 0x80:
        length = bytes([n])
    elif n < 0x100:
        length = bytes([0x81, n])
    else:
        length = bytes([0x82, n >> 8, n & 0xFF])
    return bytes([tag]) + length + content


def item(arc, value):
    return der(0x30, der(0x06, SGX_OID_DER + bytes(arc)) + value)


def integer(v):
    b = v.to_bytes(2, "big").lstrip(b"\0") or b"\0"
    if b[0] & 0x80:
        b = b"\0" + b
    return der(0x02, b)


def sgx_extension():
    tcb = b"".join(item([2, i + 1], integer(c)) for i, c in enumerate(COMPONENTS))
    tcb += item([2, 17], integer(PCE_SVN)) + item([2, 18], der(0x04, COMPONENTS))
    return der(0x30, item([1], der(0x04, bytes(16))) + item([2], der(0x30, tcb))
               + item([3], der(0x04, b"\0\0")) + item([4], der(0x04, FMSPC)) + item([5], der(0x0A, b"\0")))


def raw_sign(key, data):
    r, s = decode_dss_signature(key.sign(data, ec.ECDSA(hashes.SHA256())))
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


def name(cn):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "attestd SDK test CA")])


def cert(subject, key, issuer, issuer_key, ca, ext=None):
    now = datetime.datetime.now(datetime.timezone.utc)
    b = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer).public_key(key.public_key())
         .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=30))
         .not_valid_after(now + datetime.timedelta(days=365))
         .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if ca:
        b = b.add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False, key_encipherment=False,
                                          data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                          crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
    if ext is not None:
        b = b.add_extension(x509.UnrecognizedExtension(x509.ObjectIdentifier(SGX_OID), ext), critical=False)
    return b.sign(issuer_key, hashes.SHA256())


def pem(c):
    return c.public_bytes(serialization.Encoding.PEM).decode()


def crl(issuer, key):
    now = datetime.datetime.now(datetime.timezone.utc)
    c = (x509.CertificateRevocationListBuilder().issuer_name(issuer)
         .last_update(now - datetime.timedelta(days=1)).next_update(now + datetime.timedelta(days=30))
         .sign(key, hashes.SHA256()))
    return c.public_bytes(serialization.Encoding.DER).hex()


def report(cpu_svn, attributes, mrenclave, mrsigner, prod, svn, data):
    r = bytearray(384)
    r[0:16] = cpu_svn
    r[48:64] = attributes
    r[64:96] = mrenclave
    r[128:160] = mrsigner
    r[256:258] = prod.to_bytes(2, "little")
    r[258:260] = svn.to_bytes(2, "little")
    r[320:384] = data
    return bytes(r)


class SgxTestCa:
    def __init__(self):
        gen = lambda: ec.generate_private_key(ec.SECP256R1())  # noqa: E731
        self.root_key, self.ca_key, self.signer_key, self.pck_key, self.att_key = (gen() for _ in range(5))
        root_name = name("attestd SDK Test SGX Root CA")
        ca_name = name("attestd SDK Test SGX PCK Processor CA")
        self.root = cert(root_name, self.root_key, root_name, self.root_key, True)
        self.ca = cert(ca_name, self.ca_key, root_name, self.root_key, True)
        self.signer = cert(name("attestd SDK Test SGX TCB Signing"), self.signer_key, root_name, self.root_key, False)
        self.pck = cert(name("attestd SDK Test SGX PCK Certificate"), self.pck_key, ca_name, self.ca_key, False,
                        sgx_extension())
        now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
        issue = (now - datetime.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
        nxt = (now + datetime.timedelta(days=29)).strftime("%Y-%m-%dT%H:%M:%SZ")
        tcb_info = json.dumps({
            "id": "SGX", "version": 3, "issueDate": issue, "nextUpdate": nxt, "fmspc": FMSPC.hex().upper(),
            "pceId": "0000", "tcbType": 0, "tcbEvaluationDataNumber": 18,
            "tcbLevels": [{"tcb": {"sgxtcbcomponents": [{"svn": c} for c in COMPONENTS], "pcesvn": PCE_SVN},
                           "tcbDate": "2025-01-01T00:00:00Z", "tcbStatus": "UpToDate"}]}, separators=(",", ":"))
        qe_identity = json.dumps({
            "id": "QE", "version": 2, "issueDate": issue, "nextUpdate": nxt, "tcbEvaluationDataNumber": 18,
            "miscselect": "00000000", "miscselectMask": "FFFFFFFF",
            "attributes": "11000000000000000000000000000000", "attributesMask": "FBFFFFFFFFFFFFFF0000000000000000",
            "mrsigner": QE_MRSIGNER.hex().upper(), "isvprodid": 1,
            "tcbLevels": [{"tcb": {"isvsvn": 8}, "tcbDate": "2025-01-01T00:00:00Z", "tcbStatus": "UpToDate"}]},
            separators=(",", ":"))
        chain = pem(self.signer) + pem(self.root)
        self.bundle = json.dumps({
            "pck_crl_issuer_chain": pem(self.ca) + pem(self.root),
            "root_ca_crl": crl(root_name, self.root_key),
            "pck_crl": crl(ca_name, self.ca_key),
            "tcb_info_issuer_chain": chain, "tcb_info": tcb_info,
            "tcb_info_signature": raw_sign(self.signer_key, tcb_info.encode()).hex(),
            "qe_identity_issuer_chain": chain, "qe_identity": qe_identity,
            "qe_identity_signature": raw_sign(self.signer_key, qe_identity.encode()).hex(),
        })

    def quote(self, report_data):
        header = (b"\x03\x00\x02\x00" + bytes(4) + (8).to_bytes(2, "little") + PCE_SVN.to_bytes(2, "little")
                  + QE_VENDOR_ID + bytes(20))
        attributes = bytes([0x05] + [0] * 7 + [0x03] + [0] * 7)
        body = report(COMPONENTS, attributes, MRENCLAVE, MRSIGNER, 4, 2, report_data)
        att_pub = self.att_key.public_key().public_bytes(serialization.Encoding.X962,
                                                         serialization.PublicFormat.UncompressedPoint)[1:]
        auth = bytes([0x5A] * 32)
        qe_data = hashlib.sha256(att_pub + auth).digest() + bytes(32)
        qe_report = report(COMPONENTS, bytes([0x11] + [0] * 15), bytes([0x9E] * 32), QE_MRSIGNER, 1, 8, qe_data)
        chain = (pem(self.pck) + pem(self.ca) + pem(self.root)).encode()
        sig = (raw_sign(self.att_key, header + body) + att_pub + qe_report + raw_sign(self.pck_key, qe_report)
               + len(auth).to_bytes(2, "little") + auth + (5).to_bytes(2, "little")
               + len(chain).to_bytes(4, "little") + chain)
        return header + body + len(sig).to_bytes(4, "little") + sig


class SgxServer(Server):
    """`attestd serve` trusting the test root."""

    def __init__(self, data_dir, root_file):
        super().__init__(data_dir)
        self.root_file = root_file

    def start(self):
        self.proc = subprocess.Popen(
            [str(BIN), "serve", "--listen", "127.0.0.1:0", "--data-dir", str(self.data_dir),
             "--offline", "--insecure-test-sgx-root", str(self.root_file)],
            stdout=subprocess.PIPE, stderr=open(self.log, "ab"), text=True)
        deadline = time.time() + 60
        while time.time() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                break
            if line.startswith("attestd listening on "):
                self.url = line.split("attestd listening on ", 1)[1].strip()
                threading.Thread(target=self.proc.stdout.read, daemon=True).start()
                return
        self.stop()
        raise RuntimeError("attestd did not start:\n" + self.log.read_text())


@pytest.fixture(scope="module")
def sgx():
    assert BIN.exists(), f"build attestd first ({BIN}); scripts/test does"
    ca = SgxTestCa()
    with tempfile.TemporaryDirectory() as tmp:
        root = pathlib.Path(tmp) / "root.pem"
        root.write_text(pem(ca.root))
        bundle = pathlib.Path(tmp) / "bundle.json"
        bundle.write_text(ca.bundle)
        s = SgxServer(pathlib.Path(tmp) / "data", root)
        s.start()
        out = s.cli("collateral", "import", str(bundle))
        assert "dcap/sgx/50A0FF000001/processor/18" in out, out
        yield s, ca
        s.stop()


def client(server):
    return AttestationClient(server.url, FakeCredential(), **client_kwargs(server, server.url))


def bound(data):
    return hashlib.sha256(data).digest() + bytes(32)


def oe_report(quote):
    return (1).to_bytes(4, "little") + (2).to_bytes(4, "little") + len(quote).to_bytes(8, "little") + quote


def test_attest_sgx_enclave_with_binary_runtime_data(sgx):
    server, ca = sgx
    quote = ca.quote(bound(RUNTIME))
    result, token = client(server).attest_sgx_enclave(quote, runtime_data=RUNTIME)
    assert result.mr_enclave == MRENCLAVE.hex()
    assert result.mr_signer == MRSIGNER.hex()
    assert result.product_id == 4
    assert result.svn == 2
    assert result.is_debuggable is False
    assert result.enclave_held_data == RUNTIME
    assert result.runtime_claims is None
    body = str(token).split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    assert claims["x-ms-attestation-type"] == "sgx"
    assert claims["x-ms-sgx-tcb-status"] == "UpToDate"
    assert result.sgx_collateral["quotehash"] == hashlib.sha256(quote).hexdigest()


def test_attest_sgx_enclave_with_json_runtime_data(sgx):
    server, ca = sgx
    result, _ = client(server).attest_sgx_enclave(ca.quote(bound(RUNTIME)), runtime_json=RUNTIME)
    assert result.runtime_claims == json.loads(RUNTIME)
    assert result.enclave_held_data is None


def test_attest_open_enclave_binary_and_json(sgx):
    server, ca = sgx
    report_bytes = oe_report(ca.quote(bound(RUNTIME)))
    result, _ = client(server).attest_open_enclave(report_bytes, runtime_data=RUNTIME)
    assert result.mr_enclave == MRENCLAVE.hex()
    assert result.enclave_held_data == RUNTIME
    assert result.sgx_collateral["quotehash"] == hashlib.sha256(report_bytes).hexdigest()
    result, _ = client(server).attest_open_enclave(report_bytes, runtime_json=RUNTIME)
    assert result.runtime_claims == json.loads(RUNTIME)


def test_draft_policy_permits_and_denies(sgx):
    server, ca = sgx
    quote = ca.quote(bound(RUNTIME))
    result, token = client(server).attest_sgx_enclave(quote, runtime_data=RUNTIME, draft_policy=PERMIT)
    assert result.mr_enclave == MRENCLAVE.hex()
    # MAA's rule for x-ms-policy-hash: SHA-256 of the ASCII of base64url(policy text).
    b64 = base64.urlsafe_b64encode(PERMIT.encode()).rstrip(b"=")
    assert result.policy_hash == hashlib.sha256(b64).digest()
    with pytest.raises(HttpResponseError) as e:
        client(server).attest_sgx_enclave(quote, runtime_data=RUNTIME, draft_policy=DENY)
    assert e.value.status_code == 400
    assert e.value.error.code == "PolicyEvaluationError"


def test_runtime_data_the_enclave_did_not_bind_is_refused(sgx):
    server, ca = sgx
    with pytest.raises(HttpResponseError) as e:
        client(server).attest_sgx_enclave(ca.quote(bound(RUNTIME)), runtime_data=b"other")
    assert e.value.status_code == 400
    assert e.value.error.code == "RuntimeDataMismatch"
