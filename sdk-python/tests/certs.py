"""Test certificates made on the spot with ``cryptography``: a CA, a server certificate
for 127.0.0.1 / localhost, and client certificates whose CN is the user name."""

from __future__ import annotations

import datetime
import ipaddress
import os
from dataclasses import dataclass
from typing import Optional, Tuple

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

Key = ec.EllipticCurvePrivateKey


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _pem_key(key: Key) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


@dataclass
class Issued:
    """A certificate and its key, as PEM, and where they were written."""

    cert: bytes
    key: bytes
    cert_file: str
    key_file: str


class CA:
    """A self-signed CA that issues server and client certificates into ``directory``."""

    def __init__(self, directory: str, name: str = "corral-test-ca") -> None:
        self.dir = directory
        self.name = name
        self._key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.timezone.utc)
        self._cert = (
            x509.CertificateBuilder()
            .subject_name(_name(name))
            .issuer_name(_name(name))
            .public_key(self._key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .sign(self._key, hashes.SHA256())
        )
        self.pem = self._cert.public_bytes(serialization.Encoding.PEM)
        self.file = os.path.join(directory, f"{name}.pem")
        with open(self.file, "wb") as f:
            f.write(self.pem)

    def issue(self, cn: str, *, server: bool = False, sans: Tuple[str, ...] = ()) -> Issued:
        """A certificate for ``cn`` (a server's for 127.0.0.1 and localhost, or a client's)."""
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.timezone.utc)
        builder = (
            x509.CertificateBuilder()
            .subject_name(_name(cn))
            .issuer_name(self._cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH]),
                critical=False,
            )
        )
        names: list[x509.GeneralName] = []
        if server:
            names = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
        names += [x509.DNSName(s) for s in sans]
        if names:
            builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
        cert = builder.sign(self._key, hashes.SHA256())
        issued = Issued(cert.public_bytes(serialization.Encoding.PEM), _pem_key(key), "", "")
        issued.cert_file = os.path.join(self.dir, f"{self.name}-{cn}.pem")
        issued.key_file = os.path.join(self.dir, f"{self.name}-{cn}-key.pem")
        with open(issued.cert_file, "wb") as f:
            f.write(issued.cert)
        with open(issued.key_file, "wb") as f:
            f.write(issued.key)
        return issued


@dataclass
class ServerTLS:
    """What a TLS server is started with, and the CA clients verify it with."""

    ca: CA
    server: Issued
    client_ca: Optional[CA] = None

    def args(self) -> list[str]:
        out = ["--tls-cert", self.server.cert_file, "--tls-key", self.server.key_file]
        if self.client_ca is not None:
            out += ["--tls-client-ca", self.client_ca.file]
        return out
