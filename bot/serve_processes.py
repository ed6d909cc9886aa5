"""`linli serve --processes N`: N server processes on one port (SO_REUSEPORT), kept running.

The parent only supervises: it checks the port, forks the children, restarts one that dies
(with a back-off), and on SIGTERM or SIGINT stops them all gracefully. Each child builds its own
application on its own event loop (uvloop unless LINLI_UVLOOP=0) and serves the shared port.
On SQLite only child 0 delivers the outbox and runs the scheduler; on PostgreSQL every child
does, and SKIP LOCKED claims and advisory locks keep each row and tick to one of them.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import logging
import multiprocessing
import os
import signal
import socket
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from multiprocessing.connection import wait
from multiprocessing.process import BaseProcess
from types import FrameType

from aiohttp import web

from bot.config import ConfigurationError, Settings
from models.db import is_sqlite

logger = logging.getLogger("linli.serve")

SHUTDOWN_TIMEOUT = 10.0  # seconds in-flight requests get when a server process stops
STOP_WAIT = 30.0  # seconds the parent waits for children to stop before SIGKILL
FIRST_BACKOFF, MAX_BACKOFF = 0.5, 30.0  # seconds before restarting a child that died
STEADY_AFTER = 10.0  # a child that lived this long starts its back-off afresh
PR_SET_PDEATHSIG = 1  # prctl(2): the signal a child gets when its parent dies
PROCESS_HEADER = "X-Linli-Process"  # which child answered, when there are several


@dataclass(frozen=True)
class ServePlan:
    """What `linli serve` was asked to do."""

    host: str
    port: int
    processes: int = 1
    run_worker: bool = True
    run_scheduler: bool = True


def new_event_loop(use_uvloop: bool) -> asyncio.AbstractEventLoop:
    """uvloop's event loop when wanted and importable, else asyncio's own."""
    if use_uvloop:
        try:
            import uvloop
        except ImportError:
            logger.info("uvloop is not installed; using asyncio's event loop")
        else:
            return uvloop.new_event_loop()
    return asyncio.new_event_loop()


def child_roles(settings: Settings, plan: ServePlan, index: int) -> tuple[bool, bool]:
    """(delivery worker, scheduler) for child index: where any street is on SQLite, only
    child 0 runs them."""
    from bot.web.served import served_settings

    on_sqlite = any(is_sqlite(street.database_url) for street in served_settings(settings))
    if index > 0 and on_sqlite:
        return False, False
    return plan.run_worker, plan.run_scheduler


def links_to_the_port_served(settings: Settings, plan: ServePlan) -> Settings:
    """With no public URL configured, links in messages (加入日历, my data) point at the host and
    port served, not at the default 8080 (a street's own host, from the streets file, stays)."""
    if "public_url" in settings.model_fields_set or settings.streets_file is not None:
        return settings
    if plan.port == 0:  # a port the system picks: nothing to name yet
        return settings
    anywhere = ("", "0.0.0.0", "::", "[::]")  # noqa: S104 - read, not bound: links name loopback
    host = plan.host.strip("[]") if plan.host not in anywhere else "127.0.0.1"
    host = f"[{host}]" if ":" in host else host
    return settings.model_copy(update={"public_url": f"http://{host}:{plan.port}"})


def serve(settings: Settings, plan: ServePlan) -> int:
    """Serve as planned until stopped; the exit status."""
    settings = links_to_the_port_served(settings, plan)
    ensure_port_free(plan.host, plan.port, several=plan.processes > 1)
    learn_understanding(settings)
    if plan.processes == 1:
        run_server(settings, plan, None)
        return 0
    return Supervisor(settings, plan).run()


def learn_understanding(settings: Settings) -> None:
    """Train (or read from the disk cache) every street's understanding model before the port
    opens: a message must never wait for a training on the event loop, and forked children
    inherit the models instead of each training its own on the same cores."""
    from bot.web.served import served_data_dirs
    from models.intents import warm_intent_model

    started = time.monotonic()
    logger.info("learning to understand residents (seconds from the cache, minutes cold)")
    for data_dir in served_data_dirs(settings):
        warm_intent_model(data_dir).result()
    logger.info("understanding ready in %.1f s", time.monotonic() - started)


def ensure_port_free(host: str, port: int, *, several: bool) -> None:
    """Refuse clearly, before any child starts, a port something else listens on."""
    if several and port == 0:
        raise ConfigurationError("--processes needs a fixed --port (0 would give each its own)")
    for family, kind, proto, _, address in socket.getaddrinfo(
        host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    ):
        with socket.socket(family, kind, proto) as probe:
            # As the server will bind it; no SO_REUSEPORT, so that another listener shows.
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind(address)
            except OSError as error:
                raise ConfigurationError(
                    f"cannot listen on {host}:{port}: {error.strerror}"
                ) from error


def run_server(settings: Settings, plan: ServePlan, index: int | None) -> None:
    """Build one process's application and serve it until SIGTERM (or Ctrl-C when alone)."""
    from bot.web.served import create_served_app

    run_worker, run_scheduler = child_roles(settings, plan, index or 0)
    app = create_served_app(settings, run_worker=run_worker, run_scheduler=run_scheduler)
    loop = new_event_loop(settings.uvloop)
    alone = index is None
    if not alone:
        app.on_response_prepare.append(_marker(str(index)))
        _stop_once_on_sigterm(loop)
    logger.info(
        "serving on http://%s:%d (process %s, worker %s, scheduler %s, %s event loop)",
        plan.host,
        plan.port,
        "-" if alone else index,
        "on" if run_worker else "off",
        "on" if run_scheduler else "off",
        type(loop).__module__.split(".")[0],
    )
    # A deep accept queue: a rush of connections should wait, not be dropped and retried.
    web.run_app(
        app,
        host=plan.host,
        port=plan.port,
        print=None,
        shutdown_timeout=SHUTDOWN_TIMEOUT,
        backlog=1024,
        reuse_port=not alone,
        handle_signals=alone,
        loop=loop,
    )


def _marker(value: str) -> Callable[[web.Request, web.StreamResponse], Awaitable[None]]:
    async def mark(_request: web.Request, response: web.StreamResponse) -> None:
        response.headers[PROCESS_HEADER] = value

    return mark


def _stop_once_on_sigterm(loop: asyncio.AbstractEventLoop) -> None:
    """SIGTERM starts one graceful stop; a second would cut aiohttp's clean-up short."""
    stopping = False

    def stop() -> None:
        nonlocal stopping
        if not stopping:
            stopping = True
            raise web.GracefulExit()

    loop.add_signal_handler(signal.SIGTERM, stop)


def _child_main(settings: Settings, plan: ServePlan, index: int, parent: int) -> None:
    # Ctrl-C reaches the whole process group; the parent alone answers it, with SIGTERM.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    _stop_with_parent(parent)
    run_server(settings, plan, index)


def _stop_with_parent(parent: int) -> None:
    """Have Linux send this child SIGTERM when the supervisor dies, even by SIGKILL: no orphan
    keeps serving the port alone, unsupervised, next to a newly started supervisor's children."""
    if sys.platform != "linux":
        return
    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != parent:  # it died before the request was made
        os.kill(os.getpid(), signal.SIGTERM)


@dataclass
class Slot:
    """One child's place: its current process and when to (re)start it."""

    index: int
    process: BaseProcess | None = None
    started: float = 0.0
    start_at: float = 0.0
    failures: int = 0


class Supervisor:
    """Keeps N server processes running until SIGTERM or SIGINT."""

    def __init__(self, settings: Settings, plan: ServePlan) -> None:
        self.settings, self.plan = settings, plan
        self.slots = [Slot(index) for index in range(plan.processes)]
        # Counted once: the streets file is not read again at every child's (re)start.
        self.delivering = sum(child_roles(settings, plan, slot.index)[0] for slot in self.slots)
        self.began = time.monotonic()
        self.stopping = False
        self.context = multiprocessing.get_context("fork")  # children share the imports

    def run(self) -> int:
        """Start the children, keep them running, stop them on a signal; the exit status."""
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, self._on_signal)
        logger.info(
            "starting %d server processes on http://%s:%d",
            self.plan.processes,
            self.plan.host,
            self.plan.port,
        )
        while not self.stopping:
            self._start_due()
            alive = [slot.process.sentinel for slot in self.slots if slot.process is not None]
            wait(alive, timeout=0.25)
            self._reap()
        self._stop_all()
        return 0

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        self.stopping = True  # no logging here: a signal handler may interrupt a log call

    def _start_due(self) -> None:
        now = time.monotonic()
        for slot in self.slots:
            if slot.process is None and now >= slot.start_at and not self.stopping:
                process = self.context.Process(
                    target=_child_main,
                    args=(self._child_settings(), self.plan, slot.index, os.getpid()),
                    name=f"linli-serve-{slot.index}",
                    daemon=False,
                )
                process.start()
                slot.process, slot.started = process, now
                logger.info("server process %d started (pid %s)", slot.index, process.pid)

    def _child_settings(self) -> Settings:
        """The settings a child starts with: one demo clock, and a share of the notice rate."""
        update: dict[str, object] = {}
        if self.settings.now is not None:  # a restarted child keeps the others' time
            update["now"] = self.settings.now + timedelta(seconds=time.monotonic() - self.began)
        if self.delivering > 1:  # LINLI_NOTICE_RATE is the deployment's, not each process's
            update["notice_rate"] = self.settings.notice_rate / self.delivering
        return self.settings.model_copy(update=update)

    def _reap(self) -> None:
        now = time.monotonic()
        for slot in self.slots:
            process = slot.process
            if process is None or process.is_alive() or self.stopping:
                continue
            process.join()
            slot.process = None
            slot.failures = 1 if now - slot.started >= STEADY_AFTER else slot.failures + 1
            delay = min(FIRST_BACKOFF * 2 ** (slot.failures - 1), MAX_BACKOFF)
            slot.start_at = now + delay
            logger.warning(
                "server process %d (pid %s) exited with %s; restarting in %.1f s",
                slot.index,
                process.pid,
                _describe(process.exitcode),
                delay,
            )

    def _stop_all(self) -> None:
        logger.info("stopping %d server processes", len(self.slots))
        running = [slot.process for slot in self.slots if slot.process is not None]
        for process in running:
            if process.is_alive() and process.pid is not None:
                process.terminate()  # SIGTERM: a graceful stop
        deadline = time.monotonic() + STOP_WAIT
        for process in running:
            process.join(max(0.0, deadline - time.monotonic()))
            if process.is_alive():
                logger.warning("server process (pid %s) did not stop; killing it", process.pid)
                process.kill()
                process.join()
        logger.info("all server processes stopped")


def _describe(exitcode: int | None) -> str:
    if exitcode is not None and exitcode < 0:
        return signal.Signals(-exitcode).name
    return f"status {exitcode}"
