"""Fixtures: a real `attestd serve` over HTTPS and Azure SDK clients pointed at it."""

import os
import pathlib
import subprocess
import tempfile
import threading
import time

import pytest
from azure.core.credentials import AccessToken

ROOT = pathlib.Path(__file__).resolve().parents[2]
BIN = pathlib.Path(os.environ.get("ATTESTD_BIN", ROOT / "target" / "debug" / "attestd"))
TENANT = "sdk1"


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
def server():
    assert BIN.exists(), f"build attestd first ({BIN}); scripts/test does"
    with tempfile.TemporaryDirectory() as tmp:
        s = Server(pathlib.Path(tmp) / "data")
        s.start()
        s.cli("provider", "create", TENANT, "--public-url", s.url)
        yield s
        s.stop()


def client_kwargs(server, issuer):
    """Strict client settings: the SDK checks little by itself (reference azure-sdk-client.md §6)."""
    return dict(connection_verify=str(server.ca), retry_total=0, validate_token=True,
                validate_signature=True, validate_expiration=True, validate_issuer=True,
                issuer=issuer, validation_slack=5)
