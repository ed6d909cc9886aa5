"""GET /openapi.json: the OpenAPI 3.1 description of the whole HTTP API, assembled from one
JSON fragment per area in bot/web/openapi/ (chat.json, desk.json, open311.json …).

A fragment is a partial OpenAPI document holding only `paths` and, optionally, `components`
(`schemas`, `responses`, `parameters`, `headers`, `securitySchemes` …). Fragments are merged
as they are: the same path and method, or the same component name, in two fragments is an
error that names both files, so no area can silently replace another's description.

One answer no fragment gives is added to every operation: the HTTP server's own 400, as plain
text, for a request it will not read at all (a request line or a header longer than 8190
bytes, or bytes that are not HTTP), which never reaches a route.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler

FRAGMENTS = Path(__file__).parent / "openapi"
OPENAPI_VERSION = "3.1.0"
TITLE = "Linli"
PACKAGE = "linli"
FRAGMENT_KEYS = frozenset({"paths", "components"})
# The keys of a path item that are operations; the rest (parameters, summary …) belong to
# the path and may be given by one fragment only.
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")

Document = dict[str, Any]
SERVER_REFUSAL = "400"
SERVER_REFUSAL_CONTENT = {"text/plain": {"schema": {"type": "string"}}}
SERVER_REFUSAL_WORDS = (
    "The HTTP server's own refusal, before any route: a request line or a header longer than"
    " 8190 bytes, or a request that is not HTTP (plain text)."
)


class FragmentError(ValueError):
    """A fragment that cannot be read, or that says again what another already says."""


def package_version() -> str:
    """The installed package's version (what `pip show linli` says)."""
    try:
        return version(PACKAGE)
    except PackageNotFoundError:  # run from a tree that was never installed
        return "0+unknown"


def read_fragments(directory: Path = FRAGMENTS) -> list[tuple[str, Document]]:
    """Every *.json fragment in the directory, by file name, in name order."""
    fragments = []
    for path in sorted(directory.glob("*.json")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError) as error:
            raise FragmentError(f"{path.name}: not readable JSON ({error})") from None
        if not isinstance(data, dict):
            raise FragmentError(f"{path.name}: a fragment is a JSON object")
        fragments.append((path.name, data))
    return fragments


def assemble(fragments: Iterable[tuple[str, Mapping[str, Any]]]) -> Document:
    """One OpenAPI document from the fragments; FragmentError on any clash."""
    paths: Document = {}
    components: dict[str, Document] = {}
    owner: dict[tuple[str, ...], str] = {}  # what was described where, for the error message
    for name, fragment in fragments:
        unknown = set(fragment) - FRAGMENT_KEYS
        if unknown:
            raise FragmentError(
                f"{name}: a fragment holds only paths and components, not {sorted(unknown)}"
            )
        for path, item in _section(name, fragment, "paths").items():
            if not isinstance(item, dict):
                raise FragmentError(f"{name}: paths[{path!r}] is not an object")
            merged = paths.setdefault(path, {})
            for key, value in item.items():
                _claim(owner, (path, key), name, _what(path, key))
                merged[key] = value
        for kind, entries in _section(name, fragment, "components").items():
            if not isinstance(entries, dict):
                raise FragmentError(f"{name}: components.{kind} is not an object")
            for entry, value in entries.items():
                _claim(owner, ("#components", kind, entry), name, f"components.{kind}.{entry}")
                components.setdefault(kind, {})[entry] = value
    for item in paths.values():
        for key, operation in item.items():
            if key in METHODS and isinstance(operation, dict):
                item[key] = with_server_refusal(operation, components.get("responses", {}))
    document: Document = {
        "openapi": OPENAPI_VERSION,
        "info": {"title": TITLE, "version": package_version()},
        "servers": [{"url": "/"}],
        "paths": dict(sorted(paths.items())),
    }
    if components:
        document["components"] = {
            kind: dict(sorted(entries.items())) for kind, entries in sorted(components.items())
        }
    return document


def with_server_refusal(operation: Document, responses: Mapping[str, Any]) -> Document:
    """The operation with the HTTP server's own 400 among its answers: a plain-text body
    beside what the operation's 400 already says, or a 400 of its own."""
    answers = dict(operation.get("responses", {}))
    answer = answers.get(SERVER_REFUSAL)
    if isinstance(answer, dict) and isinstance(answer.get("$ref"), str):
        answer = responses.get(answer["$ref"].rpartition("/")[2], answer)
    if not isinstance(answer, dict):
        answer = {"description": SERVER_REFUSAL_WORDS}
    content = answer.get("content", {})
    if "text/plain" in content:
        return operation
    merged = {**answer, "content": {**content, **SERVER_REFUSAL_CONTENT}}
    if SERVER_REFUSAL in answers:
        merged["description"] = f"{answer.get('description', '')} {SERVER_REFUSAL_WORDS}".strip()
    return {**operation, "responses": {**answers, SERVER_REFUSAL: merged}}


def _section(name: str, fragment: Mapping[str, Any], key: str) -> Document:
    value = fragment.get(key, {})
    if not isinstance(value, dict):
        raise FragmentError(f"{name}: {key} is not an object")
    return value


def _what(path: str, key: str) -> str:
    return f"{key.upper()} {path}" if key in METHODS else f"{path} ({key})"


def _claim(owner: dict[tuple[str, ...], str], key: tuple[str, ...], name: str, what: str) -> None:
    """Record that a fragment describes something; FragmentError if another already does."""
    first = owner.setdefault(key, name)
    if first != name:
        raise FragmentError(f"{what} is described twice: in {first} and in {name}")


def openapi_document(directory: Path = FRAGMENTS) -> Document:
    """The whole description, from the fragments on disk."""
    return assemble(read_fragments(directory))


def openapi_handler(directory: Path = FRAGMENTS) -> Handler:
    """The GET /openapi.json handler; the document is assembled once, now, so that a clash
    between fragments stops the server from starting instead of surfacing at the first call."""
    body = json.dumps(openapi_document(directory), ensure_ascii=False).encode("utf-8")

    async def openapi_json(_request: web.Request) -> web.Response:
        return web.Response(body=body, content_type="application/json", charset="utf-8")

    return openapi_json
