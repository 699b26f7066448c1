"""TLS and mTLS against a real server started with --tls-cert/--tls-key/--tls-client-ca,
with a CA and certificates made in the test. Skipped (saying why) when the server binary
does not know those flags yet."""

from __future__ import annotations

import tempfile
from typing import Iterator

import pytest
from certs import CA, ServerTLS
from cluster import Cluster, FlagsRejected

import corral
import corral.aio


@pytest.fixture(scope="module")
def pki() -> Iterator[CA]:
    with tempfile.TemporaryDirectory(prefix="corral-py-pki-") as d:
        yield CA(d)


@pytest.fixture(scope="module")
def tls_server(pki: CA) -> Iterator[Cluster]:
    """A server with TLS on its client port that requires client certificates of ``pki``."""
    cluster = Cluster(1, tls=ServerTLS(pki, pki.issue("server", server=True), client_ca=pki))
    try:
        cluster.start()
    except FlagsRejected as e:
        cluster.stop()
        pytest.skip(f"the server binary has no TLS flags yet (the tls branch is not merged): {e}")
    yield cluster
    cluster.stop()


def test_tls_with_a_client_certificate_works(pki: CA, tls_server: Cluster) -> None:
    me = pki.issue("tls-client")
    tls = corral.TLS(ca_file=pki.file, cert_file=me.cert_file, key_file=me.key_file)
    with corral.Client(tls_server.endpoints, tls=tls, timeout=10) as c:
        c.put("/tls", "over tls", create_if_missing=True)
        assert c.get("/tls").data == b"over tls"
    # The same material as bytes.
    with corral.Client(tls_server.endpoints, tls=corral.TLS(ca=pki.pem, cert=me.cert, key=me.key), timeout=10) as c:
        assert c.get("/tls").data == b"over tls"


def test_plaintext_and_certificateless_clients_are_refused(pki: CA, tls_server: Cluster) -> None:
    with corral.Client(tls_server.endpoints, timeout=2) as plain:
        with pytest.raises((corral.Unavailable, corral.DeadlineExceeded)):
            plain.get("/")
    with corral.Client(tls_server.endpoints, tls=corral.TLS(ca_file=pki.file), timeout=2) as no_cert:
        with pytest.raises((corral.Unavailable, corral.DeadlineExceeded)):
            no_cert.get("/")


def test_the_server_is_verified_against_the_ca_and_its_name(pki: CA, tls_server: Cluster) -> None:
    me = pki.issue("tls-verifier")
    with tempfile.TemporaryDirectory() as d:
        other = CA(d, "other-ca")
        wrong_ca = corral.TLS(ca_file=other.file, cert_file=me.cert_file, key_file=me.key_file)
        with corral.Client(tls_server.endpoints, tls=wrong_ca, timeout=2) as c:
            with pytest.raises((corral.Unavailable, corral.DeadlineExceeded)):
                c.get("/")
    # The certificate names localhost and 127.0.0.1: an override must match it.
    good = corral.TLS(ca_file=pki.file, cert_file=me.cert_file, key_file=me.key_file, server_name="localhost")
    with corral.Client(tls_server.endpoints, tls=good, timeout=10) as c:
        c.get("/")
    bad = corral.TLS(ca_file=pki.file, cert_file=me.cert_file, key_file=me.key_file, server_name="db.example")
    with corral.Client(tls_server.endpoints, tls=bad, timeout=2) as c:
        with pytest.raises((corral.Unavailable, corral.DeadlineExceeded)):
            c.get("/")


def test_the_client_certificate_names_the_user(pki: CA, tls_server: Cluster) -> None:
    def tls(cn: str) -> corral.TLS:
        cert = pki.issue(cn)
        return corral.TLS(ca_file=pki.file, cert_file=cert.cert_file, key_file=cert.key_file)

    with (
        corral.Client(tls_server.endpoints, tls=tls("root"), timeout=10) as root,
        corral.Client(tls_server.endpoints, tls=tls("carol"), timeout=10) as carol,
    ):
        root.auth.user_add("root", "root-pw")
        root.auth.user_add("carol", "carol-pw")
        root.auth.enable()
        try:
            # No password, no token: the certificate's CN is the user.
            assert root.auth.status().user == "root"
            assert carol.auth.status().user == "carol"
            with pytest.raises(corral.PermissionDenied) as e:
                carol.auth.user_list()
            assert e.value.user == "carol"
            # A token, when sent, wins over the certificate.
            with corral.Client(
                tls_server.endpoints, tls=tls("root"), credentials=("carol", "carol-pw"), timeout=10
            ) as carol_by_token:
                assert carol_by_token.auth.status().user == "carol"
        finally:
            root.auth.disable()


async def test_aio_client_over_mtls(pki: CA, tls_server: Cluster) -> None:
    me = pki.issue("aio-tls")
    tls = corral.TLS(ca_file=pki.file, cert_file=me.cert_file, key_file=me.key_file)
    async with corral.aio.Client(tls_server.endpoints, tls=tls, timeout=10) as c:
        await c.put("/aio-tls", "x", create_if_missing=True)
        assert (await c.get("/aio-tls")).data == b"x"
    async with corral.aio.Client(tls_server.endpoints, timeout=2) as plain:
        with pytest.raises((corral.Unavailable, corral.DeadlineExceeded)):
            await plain.get("/")
