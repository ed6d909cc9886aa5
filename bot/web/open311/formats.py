"""The two formats of every Open311 answer: JSON, and XML written with ElementTree (escaped by
it; characters XML 1.0 cannot hold are dropped first), with the spec's element names."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from enum import StrEnum
from typing import Any
from xml.etree import ElementTree as ET  # writing only; nothing here parses XML

from aiohttp import web

from models.base import SHANGHAI


class Format(StrEnum):
    """The formats an endpoint answers in, by its extension."""

    JSON = "json"
    XML = "xml"


CONTENT_TYPES = {Format.JSON: "application/json", Format.XML: "application/xml"}
# The element of each item inside a list, by the list's element (the spec's names).
ITEM_NAMES = {
    "services": "service",
    "service_requests": "request",
    "errors": "error",
    "endpoints": "endpoint",
    "formats": "format",
    "attributes": "attribute",
    "values": "value",
}
# Control characters other than tab, newline and carriage return, lone surrogates and the two
# non-characters: XML 1.0 cannot carry them, even escaped.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def moment(at: datetime | None) -> str | None:
    """An instant in ISO 8601 with the street's offset (2026-11-27T10:00:00+08:00)."""
    return None if at is None else at.astimezone(SHANGHAI).isoformat(timespec="seconds")


def answer(
    document: Mapping[str, Any] | Sequence[Any], fmt: Format, root: str, status: int = 200
) -> web.Response:
    """One answer in the asked format; root names the XML document element."""
    if fmt is Format.JSON:
        body = json.dumps(document, ensure_ascii=False)
    else:
        body = xml_text(root, document)
    # A lone surrogate (never stored by PostgreSQL, but SQLite keeps what it is given) must
    # not stop the answer: it becomes "?".
    return web.Response(
        body=body.encode("utf-8", "replace"),
        status=status,
        content_type=CONTENT_TYPES[fmt],
        charset="utf-8",
    )


def errors(fmt: Format, status: int, *descriptions: str) -> web.Response:
    """The spec's error list: [{"code": status, "description": …}, …]."""
    listed = [{"code": status, "description": text} for text in descriptions]
    return answer(listed, fmt, "errors", status)


def xml_text(root: str, document: Mapping[str, Any] | Sequence[Any]) -> str:
    """The document as XML with a declaration."""
    element = ET.Element(root)
    _fill(element, root, document)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(element, encoding="unicode")


def _fill(element: ET.Element, name: str, value: Any) -> None:
    if isinstance(value, Mapping):
        for key, inner in value.items():
            _fill(ET.SubElement(element, key), key, inner)
    elif isinstance(value, list | tuple):
        item = ITEM_NAMES.get(name, "item")
        for inner in value:
            _fill(ET.SubElement(element, item), item, inner)
    elif value is not None:
        element.text = _NOT_XML.sub("", _scalar(value))


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
