"""A TCP front for a fake platform API that can be switched to failing: up (forwards every byte),
failing (answers HTTP 503 itself) or down (the port refuses connections)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from enum import StrEnum

SERVICE_UNAVAILABLE = (
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\n"
    b"Content-Length: 11\r\nConnection: close\r\n\r\nunavailable"
)


class Mode(StrEnum):
    """What the front does with a connection."""

    UP = "up"
    FAILING = "5xx"
    DOWN = "refused"


class Switch:
    """Listens on one loopback port in front of target_port; the mode decides the answer."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = 0
        self.mode = Mode.UP
        self._server: asyncio.Server | None = None
        self._open: set[asyncio.StreamWriter] = set()

    @property
    def base_url(self) -> str:
        """The URL a client uses instead of the platform's."""
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        """Listen (on a free port the first time, on the same port after a DOWN spell)."""
        if self.port == 0:
            with socket.socket() as probe:
                probe.bind(("127.0.0.1", 0))
                self.port = int(probe.getsockname()[1])
        self._server = await asyncio.start_server(
            self._serve, "127.0.0.1", self.port, reuse_address=True
        )

    async def set(self, mode: Mode) -> None:
        """Switch mode; open connections are cut, DOWN closes the port and UP reopens it."""
        for writer in list(self._open):  # a kept-alive connection must not outlive its mode
            writer.close()
        if mode is Mode.DOWN and self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        elif mode is not Mode.DOWN and self._server is None:
            await self.start()
        self.mode = mode

    async def close(self) -> None:
        """Stop listening for good."""
        await self.set(Mode.DOWN)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._open.add(writer)
        try:
            if self.mode is Mode.FAILING:
                await reader.read(65536)
                writer.write(SERVICE_UNAVAILABLE)
                await writer.drain()
                return
            target_reader, target_writer = await asyncio.open_connection(
                "127.0.0.1", self.target_port
            )
            self._open.add(target_writer)
            await asyncio.gather(
                _pipe(reader, target_writer), _pipe(target_reader, writer), return_exceptions=True
            )
        except OSError:
            pass
        finally:
            self._open.discard(writer)
            writer.close()


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Copy bytes until either side closes."""
    try:
        while chunk := await reader.read(65536):
            writer.write(chunk)
            await writer.drain()
    finally:
        with contextlib.suppress(OSError):
            writer.close()
