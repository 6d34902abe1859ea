"""A private certificate authority made at test time with the ``openssl`` command.

Why the CLI: the ``cryptography`` package is not a test dependency, and ``openssl`` is on
every CI image (Debian's ``openssl`` package). Tests that need it skip, saying so, where it
is missing. Files go to a pytest ``tmp_path``: nothing is shared between workers.
"""

from __future__ import annotations

import shutil
import ssl
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest


@dataclass(frozen=True)
class PrivateCA:
    ca_file: Path
    cert_file: Path
    key_file: Path

    def server_context(self) -> ssl.SSLContext:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(self.cert_file, self.key_file)
        return ctx


def _run(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def make_private_ca(folder: Path) -> PrivateCA:
    """A CA and a server certificate for 127.0.0.1 signed by it (EC keys: fast to make)."""
    if shutil.which("openssl") is None:
        pytest.skip("the openssl command is not installed (Debian package: openssl)")
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "san.ext").write_text(
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n"
    )
    _run("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", "ca.key", cwd=folder)
    _run(
        "req", "-x509", "-new", "-key", "ca.key", "-sha256", "-days", "2",
        "-subj", "/CN=lunos-test-private-ca", "-out", "ca.pem", cwd=folder,
    )  # fmt: skip
    _run("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", "server.key", cwd=folder)
    _run(
        "req", "-new", "-key", "server.key", "-subj", "/CN=127.0.0.1", "-out", "server.csr",
        cwd=folder,
    )  # fmt: skip
    _run(
        "x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
        "-CAcreateserial", "-days", "2", "-sha256", "-extfile", "san.ext", "-out", "server.pem",
        cwd=folder,
    )  # fmt: skip
    return PrivateCA(folder / "ca.pem", folder / "server.pem", folder / "server.key")
