"""Who may talk to a compiler service: where it may listen, the shared token, and TLS.

The rules (`check_listening`): a Unix socket in a directory only this user can enter is private and
needs nothing; any other socket (TCP, even on loopback, or a Unix socket others can reach) needs a
token unless the operator passes the explicit insecure flag; beyond loopback the service needs
``--allow-remote``, a token and TLS (a token never crosses the network in plain text). A client
refuses to send its token in plain text beyond loopback too.
"""

from __future__ import annotations

import hmac
import ipaddress
import os
import secrets
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import grpc

from mlgo_env.errors import PermissionDenied
from mlgo_env.service.errors import ERROR_METADATA_KEY

__all__ = [
    "TokenCheck",
    "check_listening",
    "client_credentials",
    "generate_token",
    "is_loopback",
    "is_private_socket",
    "server_credentials",
]


def is_loopback(address: str) -> bool:
    """Whether `address` (``host:port`` or ``unix:PATH``) can only be reached from this machine."""
    if address.startswith(("unix:", "unix-abstract:")):
        return True
    host = address.rsplit(":", 1)[0].strip("[]")
    if host == "localhost":
        return True
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return False  # a host name other than localhost: it may resolve anywhere
    mapped = ip.ipv4_mapped if isinstance(ip, ipaddress.IPv6Address) else None
    return ip.is_loopback or bool(mapped and mapped.is_loopback)


def is_private_socket(address: str) -> bool:
    """Whether `address` is a Unix socket whose directory only this user can enter (as the embedded service's)."""
    if not address.startswith("unix:"):
        return False
    directory = Path(address.removeprefix("unix:").removeprefix("//")).parent
    try:
        info = directory.stat()
    except OSError:
        return False
    return info.st_uid == os.getuid() and not info.st_mode & (stat.S_IRWXG | stat.S_IRWXO)


def check_listening(
    address: str, token: str | None, tls: bool, allow_remote: bool = False, insecure: bool = False
) -> None:
    """Refuse a way of listening that would let others in unchecked or expose the token.

    Raises:
        PermissionDenied: what is missing, and the flag that provides it.
    """
    if not is_loopback(address):
        if not allow_remote:
            raise PermissionDenied(f"refusing to listen on {address}: pass --allow-remote to listen beyond loopback")
        if not token:
            raise PermissionDenied(f"listening on {address} beyond loopback needs a token (--token)")
        if not tls:
            raise PermissionDenied(
                f"listening on {address} beyond loopback needs TLS (--tls-cert and --tls-key): "
                "the token would cross the network in plain text"
            )
    elif not (token or insecure or is_private_socket(address)):
        raise PermissionDenied(
            f"{address} can be reached by every local user: give a token (--token, MLGO_SERVICE_TOKEN; "
            "`mlgo-env serve` makes one) or pass --insecure"
        )


def generate_token() -> str:
    """A fresh random token (256 bits, URL-safe)."""
    return secrets.token_urlsafe(32)


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise PermissionDenied(f"cannot read the TLS {what} {path}: {exc.strerror}") from exc


def server_credentials(cert: Path, key: Path) -> grpc.ServerCredentials:
    """The TLS credentials of a service: its PEM certificate chain and private key."""
    return grpc.ssl_server_credentials([(_read(key, "key"), _read(cert, "certificate"))])


def client_credentials(root: Path | None) -> grpc.ChannelCredentials:
    """The TLS credentials of a client: trust `root` (PEM), or the system's roots when None."""
    return grpc.ssl_channel_credentials(root_certificates=_read(root, "root certificate") if root else None)


class TokenCheck(grpc.ServerInterceptor):
    """Refuses calls without the shared token (``authorization: Bearer <token>``), compared in constant time."""

    def __init__(self, token: str) -> None:
        self._expected = f"Bearer {token}".encode()

        def deny(request: Any, context: grpc.ServicerContext) -> None:
            context.set_trailing_metadata(((ERROR_METADATA_KEY, PermissionDenied.__name__),))
            context.abort(grpc.StatusCode.UNAUTHENTICATED, "missing or wrong token (MLGO_SERVICE_TOKEN)")

        self._deny = grpc.unary_unary_rpc_method_handler(deny)
        self._deny_stream = grpc.stream_stream_rpc_method_handler(deny)

    def intercept_service(self, continuation: Callable, handler_call_details: grpc.HandlerCallDetails) -> Any:
        """The call's handler when its token matches, else one of the same kind (unary, stream) that refuses it."""
        metadata = dict(handler_call_details.invocation_metadata or ())
        given = str(metadata.get("authorization", "")).encode()
        handler = continuation(handler_call_details)
        if hmac.compare_digest(given, self._expected):
            return handler
        return self._deny_stream if handler is not None and handler.request_streaming else self._deny
