"""Transport security and credentials shared by the sync and asyncio clients: the
:class:`TLS` options, and :class:`TokenState`, the one record of the client's token
(when it was issued, when to refresh it, which one a failed call carried).

What is never done here: log, print or put in an error message a password or a token.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field
from typing import Any, List, Optional, Sequence, Tuple, Union

import grpc

from corral._errors import AUTHORIZATION_HEADER, CorralError, InvalidArgument, token_refused

#: A token is refreshed once less than this share of its lifetime is left, so that a
#: call never leaves with a token about to expire on the way (the contract's ~20%).
REFRESH_AT = 0.8

PathLike = Union[str, "os.PathLike[str]"]


def _read_pem(data: Optional[bytes], path: Optional[PathLike], what: str, marker: bytes) -> Optional[bytes]:
    """PEM bytes given directly or read from ``path``; InvalidArgument naming the
    option and the file when it cannot be read or holds no PEM block of that kind."""
    if data is None and path is None:
        return None
    argument = what if data is not None else f"{what}_file"
    if data is None:
        name = os.fspath(path)  # type: ignore[arg-type]
        try:
            with open(name, "rb") as f:
                data = f.read()
        except OSError as e:
            raise InvalidArgument(f"{argument} {name!r}: cannot read it: {e.strerror}", argument=argument) from None
        source = f"{argument} {name!r}"
    else:
        source = argument
    if not isinstance(data, (bytes, bytearray)):
        raise TypeError(f"{argument}: expected PEM bytes, got {type(data).__name__}")
    if b"-----BEGIN" not in data or marker not in data:
        raise InvalidArgument(f"{source}: no PEM {marker.decode()} block in it", argument=argument)
    return bytes(data)


@dataclass(frozen=True)
class TLS:
    """TLS to the members: how to verify them and, for mTLS, the client's certificate.

    Each PEM item is given either as bytes (``ca``, ``cert``, ``key``) or as a file
    (``ca_file``, ``cert_file``, ``key_file``); files are read when the client is made.
    Without a CA the system's trusted roots verify the server. ``cert`` and ``key``
    go together; with them, a server started with ``--tls-client-ca`` takes the
    certificate's CN as the user (no password needed). ``server_name`` is the name the
    server's certificate must carry when it differs from the endpoints' host::

        corral.Client("db1:2479", tls=corral.TLS(ca_file="ca.pem"))
        corral.TLS(ca_file="ca.pem", cert_file="me.pem", key_file="me-key.pem")
    """

    ca: Optional[bytes] = field(default=None, repr=False)
    ca_file: Optional[PathLike] = None
    cert: Optional[bytes] = field(default=None, repr=False)
    cert_file: Optional[PathLike] = None
    key: Optional[bytes] = field(default=None, repr=False)
    key_file: Optional[PathLike] = None
    server_name: Optional[str] = None

    def __post_init__(self) -> None:
        for what in ("ca", "cert", "key"):
            if getattr(self, what) is not None and getattr(self, f"{what}_file") is not None:
                raise InvalidArgument(f"{what} and {what}_file: give one, not both", argument=what)
        has_cert = self.cert is not None or self.cert_file is not None
        has_key = self.key is not None or self.key_file is not None
        if has_cert != has_key:
            raise InvalidArgument(
                "cert and key: a client certificate needs its private key and the other way round",
                argument="cert" if has_key else "key",
            )
        if self.server_name is not None and (not isinstance(self.server_name, str) or not self.server_name):
            raise InvalidArgument("server_name: expected a non-empty str", argument="server_name")

    def channel_credentials(self) -> grpc.ChannelCredentials:
        """The gRPC credentials (reads the files; InvalidArgument if one is unusable)."""
        ca = _read_pem(self.ca, self.ca_file, "ca", b"CERTIFICATE")
        cert = _read_pem(self.cert, self.cert_file, "cert", b"CERTIFICATE")
        key = _read_pem(self.key, self.key_file, "key", b"PRIVATE KEY")
        return grpc.ssl_channel_credentials(root_certificates=ca, private_key=key, certificate_chain=cert)

    def channel_options(self) -> List[Tuple[str, Any]]:
        """Channel options the TLS settings add (the server name override)."""
        if self.server_name is None:
            return []
        return [("grpc.ssl_target_name_override", self.server_name)]


def check_credentials(credentials: object) -> Optional[Tuple[str, str]]:
    """``(user, password)`` checked, or None."""
    if credentials is None:
        return None
    if (
        not isinstance(credentials, (tuple, list))
        or len(credentials) != 2
        or not all(isinstance(x, str) for x in credentials)
    ):
        # Say what was expected without echoing the value: it holds a password.
        raise TypeError("credentials: expected a (user, password) pair of str")
    user, password = credentials
    if not user or not password:
        raise InvalidArgument("credentials: the user name and the password must not be empty", argument="credentials")
    return user, password


def check_token(token: object) -> Optional[str]:
    """A ready token checked, or None."""
    if token is None:
        return None
    if not isinstance(token, str) or not token or any(c.isspace() for c in token):
        raise InvalidArgument("token: expected a non-empty str without spaces", argument="token")
    return token


#: A token as a call carries it: the token and the generation it belongs to.
Issued = Tuple[str, int]


class TokenState:
    """The client's token and what is known about it, shared by every call (and thread)
    of one client. The clients do the authenticating (the sync one blocking, the
    asyncio one awaiting); this only keeps the books:

    - ``current(now)``: the token to send, and whether to authenticate first (none
      usable, or less than 20% of its lifetime left).
    - ``invalidate(generation)``: a call carrying that token (None: no token) was
      refused; it is dropped unless another call already replaced it, so concurrent
      refusals lead to one Authenticate.
    - ``issued(token, ttl_ms, sent_at)``: a new token from Authenticate.
    - ``auth_off()``: the cluster has auth disabled (Authenticate said so): calls go
      without a token until one is refused for want of credentials.
    """

    def __init__(self, credentials: Optional[Tuple[str, str]], token: Optional[str]) -> None:
        self._credentials = credentials
        self._token = token
        self._generation = 1 if token else 0
        self._off = False
        self._refresh_at: Optional[float] = None
        self._expires_at: Optional[float] = None
        self._lock = threading.Lock()

    @property
    def user(self) -> Optional[str]:
        """The user of the credentials, if any."""
        return self._credentials[0] if self._credentials else None

    @property
    def can_authenticate(self) -> bool:
        """Whether the client holds a user name and password to get tokens with."""
        return self._credentials is not None

    def credentials(self) -> Optional[Tuple[str, str]]:
        """The user name and password (never to be logged)."""
        with self._lock:
            return self._credentials

    def password_changed(self, user: str, password: str) -> None:
        """After the client changed the password of ``user``: if that is its own user,
        the new password is kept and the token (revoked by the change) dropped."""
        with self._lock:
            if self._credentials is not None and self._credentials[0] == user:
                self._credentials = (user, password)
                self._token = None

    def current(self, now: float) -> Tuple[Optional[Issued], bool]:
        """The token to send (None: none) and whether to authenticate first."""
        with self._lock:
            if self._off:
                return None, False
            token = self._token
            if token is not None and self._expires_at is not None and now >= self._expires_at:
                token = None
            if token is None:
                return None, self._credentials is not None
            due = self._credentials is not None and self._refresh_at is not None and now >= self._refresh_at
            return (token, self._generation), due

    def issued(self, token: str, ttl_ms: int, sent_at: float) -> None:
        """Records a token from Authenticate; its lifetime counts from when the request
        left (``sent_at``, monotonic), so the client never thinks it lives longer than
        the server does."""
        with self._lock:
            self._token = token
            self._generation += 1
            self._off = False
            if ttl_ms > 0:
                self._refresh_at = sent_at + ttl_ms / 1000 * REFRESH_AT
                self._expires_at = sent_at + ttl_ms / 1000
            else:
                self._refresh_at = self._expires_at = None

    def auth_off(self) -> None:
        """Records that the cluster has auth disabled (it issues no tokens then)."""
        with self._lock:
            self._token = None
            self._off = True

    def auth_enabled(self) -> None:
        """Records that this client turned auth on: if it went without a token while
        auth was off, its next call authenticates (instead of waiting for a refusal,
        which ``auth.status()``, answered to anonymous callers too, never gives)."""
        with self._lock:
            self._off = False

    def invalidate(self, generation: Optional[int]) -> None:
        """After a call carrying the token of ``generation`` (None: no token) was
        refused: that token is dropped if it is still the current one, and a call that
        went without one (auth was off) makes the next call authenticate."""
        with self._lock:
            if self._credentials is None:
                return
            if generation is None:
                self._off = False
            elif generation == self._generation:
                self._token = None


def auth_metadata(
    base: Optional[Sequence[Tuple[str, str]]], token: Optional[Issued]
) -> Optional[Tuple[Tuple[str, str], ...]]:
    """A call's metadata: ``base`` (e.g. the request id) plus the token's
    ``authorization: Bearer`` header when there is one."""
    if token is None:
        return tuple(base) if base else None
    return (*(base or ()), (AUTHORIZATION_HEADER, f"Bearer {token[0]}"))


def drop_refused(tokens: Optional[TokenState], error: CorralError, generation: Optional[int]) -> bool:
    """Whether a stream refused for its token (``generation``'s) is to be reopened at
    once with a new one: the client can authenticate, and the refusal is one a new
    token cures. That token is dropped. Callers allow it once in a row."""
    if tokens is None or not tokens.can_authenticate or not token_refused(error):
        return False
    tokens.invalidate(generation)
    return True


def now() -> float:
    """The clock token lifetimes are measured with."""
    return time.monotonic()
