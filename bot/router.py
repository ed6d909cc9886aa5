"""Routers in the spirit of aiogram: handlers registered with filters, sub-routers per feature.

A message is offered to the whole router tree phase by phase, so that a button press beats a
command word, a command word ("取消", "菜单") beats the current flow, and the flow beats keywords.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from enum import IntEnum

from bot.context import Context
from bot.messages import Reply

HandlerResult = Reply | Sequence[Reply] | None
KEYS_KEPT = 4096  # kinds of message (command, event, state) whose candidate routes are kept
Handler = Callable[[Context], Awaitable[HandlerResult]]
Filter = Callable[[Context], bool]


class Phase(IntEnum):
    """The order in which kinds of routes are tried."""

    PAYLOAD = 0
    COMMAND = 1
    STATE = 2
    KEYWORD = 3
    FALLBACK = 4


@dataclass(frozen=True)
class Route:
    """A handler with the phase it runs in and the filters that must all pass."""

    phase: Phase
    filters: tuple[Filter, ...]
    handler: Handler
    name: str
    prefixes: tuple[str, ...] = ()
    # What the first filter asks, when it asks only that: ("command" | "event" | "state", the
    # values it accepts), so that the index offers the route only the messages it can take.
    gate: tuple[str, frozenset[str]] | None = None

    def matches(self, ctx: Context) -> bool:
        """Whether every filter accepts the message."""
        return all(check(ctx) for check in self.filters)


def as_replies(result: HandlerResult) -> list[Reply]:
    """Normalise what a handler returned into a list of replies."""
    if result is None:
        return []
    if isinstance(result, Reply):
        return [result]
    return list(result)


class Router:
    """A named group of routes; include other routers to build a tree."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._routes: list[Route] = []
        self._children: list[Router] = []
        self._index: _RouteIndex | None = None  # the whole tree's routes, once dispatching

    def include(self, *routers: Router) -> Router:
        """Add sub-routers, tried after this router's own routes, in order."""
        self._children.extend(routers)
        self._index = None
        return self

    def route(
        self,
        phase: Phase,
        *filters: Filter,
        prefixes: tuple[str, ...] = (),
        gate: tuple[str, frozenset[str]] | None = None,
    ) -> Callable[[Handler], Handler]:
        """Register a handler for a phase with arbitrary filters."""

        def register(handler: Handler) -> Handler:
            name = f"{self.name}.{handler.__name__}"
            self._routes.append(Route(phase, tuple(filters), handler, name, prefixes, gate))
            self._index = None
            return handler

        return register

    def payload(
        self, *prefixes: str, filters: Sequence[Filter] = ()
    ) -> Callable[[Handler], Handler]:
        """Handle a button payload equal to a prefix or starting with "prefix:" (rest in ctx.args).

        When several routes match, the one with the longest prefix wins, so "account:grid"
        is not swallowed by "account".
        """
        return self.route(Phase.PAYLOAD, *filters, prefixes=prefixes)

    def command(
        self, *commands: str, filters: Sequence[Filter] = ()
    ) -> Callable[[Handler], Handler]:
        """Handle a chat word such as "菜单"/"menu" (see [commands] in the locale files)."""
        gate = ("command", frozenset(commands))
        return self.route(Phase.COMMAND, lambda ctx: ctx.command in commands, *filters, gate=gate)

    def event(self, *events: str, filters: Sequence[Filter] = ()) -> Callable[[Handler], Handler]:
        """Handle a channel event (subscribe, unsubscribe, image, location, …)."""
        gate = ("event", frozenset(events))
        return self.route(
            Phase.COMMAND, lambda ctx: ctx.inbound.event in events, *filters, gate=gate
        )

    def state(self, *names: str) -> Callable[[Handler], Handler]:
        """Handle typed text while the conversation is in one of the named states."""
        return self.route(
            Phase.STATE,
            lambda ctx: ctx.payload is None and ctx.state.name in names,
            gate=("state", frozenset(names)),
        )

    def keyword(self, *words: str) -> Callable[[Handler], Handler]:
        """Handle typed text that contains one of the words."""
        return self.route(Phase.KEYWORD, lambda ctx: any(w in ctx.words for w in words))

    def fallback(self) -> Callable[[Handler], Handler]:
        """Handle whatever nothing else took."""
        return self.route(Phase.FALLBACK)

    def walk(self) -> Iterator[Route]:
        """Every route of this router and its sub-routers, depth first."""
        yield from self._routes
        for child in self._children:
            yield from child.walk()

    async def dispatch(self, ctx: Context) -> list[Reply] | None:
        """Run the first matching handler; None when nothing matched."""
        if self._index is None:  # routers are built at import time; routes are not added later
            self._index = _RouteIndex(list(self.walk()))
        chosen = self._index.payload_route(ctx)
        if chosen is None:
            chosen = next(
                (route for route in self._index.unpressed_for(ctx) if route.matches(ctx)),
                None,
            )
        if chosen is None:
            return None
        ctx.route_name = chosen.name
        return as_replies(await chosen.handler(ctx))


class _RouteIndex:
    """A router tree's routes looked up by payload prefix and in phase order, so that a message
    is offered only to the routes that can take it (the tree has about a hundred)."""

    def __init__(self, routes: list[Route]) -> None:
        self.by_prefix: dict[str, list[Route]] = {}
        for route in routes:
            if route.phase is Phase.PAYLOAD:
                for prefix in dict.fromkeys(route.prefixes):
                    self.by_prefix.setdefault(prefix, []).append(route)
        self.unpressed = [
            route for phase in list(Phase)[1:] for route in routes if route.phase is phase
        ]
        self._unpressed_by_key: dict[tuple[str | None, ...], list[Route]] = {}

    def unpressed_for(self, ctx: Context) -> list[Route]:
        """The routes other than payload routes that may take this message, in order: those
        whose gate (command word, event, state) lets it through, and those without a gate."""
        key = (
            ctx.command,
            ctx.inbound.event,
            ctx.state.name if ctx.payload is None else None,
        )
        routes = self._unpressed_by_key.get(key)
        if routes is None:
            seen = dict(zip(("command", "event", "state"), key, strict=True))
            routes = [
                route
                for route in self.unpressed
                if route.gate is None or seen[route.gate[0]] in route.gate[1]
            ]
            if len(self._unpressed_by_key) < KEYS_KEPT:  # events and states are the sender's
                self._unpressed_by_key[key] = routes
        return routes

    def payload_route(self, ctx: Context) -> Route | None:
        """The route of the longest prefix the payload is, or starts with "prefix:" (the first
        in tree order whose filters pass); ctx.args gets the rest of the payload."""
        payload = ctx.payload
        if payload is None:
            return None
        # The payload itself, then each of its parts before a ":", longest first.
        cuts = [len(payload)] + [i for i in range(len(payload) - 1, -1, -1) if payload[i] == ":"]
        for cut in cuts:
            for route in self.by_prefix.get(payload[:cut], ()):
                if route.matches(ctx):
                    ctx.args = payload[cut + 1 :]
                    return route
        return None
