"""TLS for both front ends from one certificate and key (PEM files, e.g. a mounted
kubernetes.io/tls Secret), re-read when they change: cert-manager renews a certificate in place,
and a router that kept the old one would serve it past its expiry.

A new pair is checked (the key matches the certificate) before anything uses it, and every
connection after the check gets it: gRPC asks for the current pair before each handshake, and
the HTTP listener's context hands each handshake to the current context. A pair that does not
load keeps the last good one."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import ssl
from collections.abc import Callable
from pathlib import Path
from typing import cast

import grpc
from pydantic import BaseModel, ConfigDict

log = logging.getLogger("llm_router.tls")


class TlsError(ValueError):
    pass


class TlsFiles(BaseModel):
    model_config = ConfigDict(frozen=True)

    cert: Path
    key: Path


class _Pair(BaseModel):
    model_config = ConfigDict(frozen=True)

    cert: bytes
    key: bytes

    @property
    def revision(self) -> str:
        return hashlib.sha256(self.cert + b"\0" + self.key).hexdigest()[:16]


class TlsCertificates:
    def __init__(self, files: TlsFiles, *, interval_s: float = 5.0) -> None:
        self.files = files
        self.interval_s = interval_s
        self.last_error: str | None = None
        pair = self._read()
        self._context = self._checked(pair)
        self.revision = pair.revision
        self._grpc_pending: grpc.ServerCertificateConfiguration | None = None
        self._listener: ssl.SSLContext | None = None

    def _read(self) -> _Pair:
        try:
            return _Pair(cert=self.files.cert.read_bytes(), key=self.files.key.read_bytes())
        except OSError as e:
            raise TlsError(f"tls: cannot read {e.filename}: {e.strerror}") from None

    def _checked(self, pair: _Pair) -> ssl.SSLContext:
        """A server context for `pair`, or TlsError: load_cert_chain also checks that the key
        belongs to the certificate (a renewal caught between writing the two would not)."""
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        try:
            # Python's ssl loads PEM from files only: these are the files just read, and the
            # context is thrown away if they changed under us and no longer match.
            context.load_cert_chain(self.files.cert, self.files.key)
        except (ssl.SSLError, OSError) as e:
            raise TlsError(f"tls: {self.files.cert} and {self.files.key} do not load: {e}") from None
        if self._read() != pair:
            raise TlsError("tls: the files changed while being read")
        return context

    def http_context(self) -> ssl.SSLContext:
        """The context for the HTTP listener. It serves the current pair: each handshake is
        moved to the newest context (the SNI callback runs for every ClientHello, SNI or not)."""
        if self._listener is None:
            listener = self._context

            def current(connection: ssl.SSLObject | ssl.SSLSocket, _name: str | None, _ctx: ssl.SSLContext) -> None:
                if self._context is not listener:
                    connection.context = self._context

            listener.sni_callback = current
            self._listener = listener
        return self._listener

    def grpc_credentials(self) -> grpc.ServerCredentials:
        pair = self._read()
        # The stub says the fetcher never returns None; gRPC's documentation says None means "no change".
        fetch = cast(Callable[[], grpc.ServerCertificateConfiguration], self._grpc_fetch)
        return grpc.dynamic_ssl_server_credentials(_grpc_config(pair), fetch)

    def _grpc_fetch(self) -> grpc.ServerCertificateConfiguration | None:
        """Called by gRPC before each handshake: a new pair once, then None (no change)."""
        pending, self._grpc_pending = self._grpc_pending, None
        return pending

    def reload(self) -> bool:
        try:
            pair = self._read()
            if pair.revision == self.revision:
                return True
            context = self._checked(pair)
        except TlsError as e:
            if str(e) != self.last_error:
                log.error("tls certificate refused; the last good one stays", extra={"error": str(e)})
            self.last_error = str(e)
            return False
        self._context, self.revision, self.last_error = context, pair.revision, None
        self._grpc_pending = _grpc_config(pair)
        log.info("tls certificate reloaded", extra={"revision": pair.revision})
        return True

    async def follow(self) -> None:
        while True:
            await asyncio.sleep(self.interval_s)
            self.reload()


def _grpc_config(pair: _Pair) -> grpc.ServerCertificateConfiguration:
    return grpc.ssl_server_certificate_configuration([(pair.key, pair.cert)])
