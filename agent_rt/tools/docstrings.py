"""Read a summary and per-parameter descriptions out of a docstring.

Supports the three common styles (Google ``Args:``, reST ``:param x:``, NumPy ``Parameters`` with a
dashed underline), so that a typed function's existing docs become the tool's descriptions.
"""

from __future__ import annotations

import inspect
import re
from dataclasses import dataclass, field

__all__ = ["Docstring", "parse_docstring"]

_PARAM_SECTIONS = frozenset(
    {"args", "arguments", "parameters", "params", "keyword args", "keyword arguments", "attributes", "fields"}
)
_GOOGLE_HEADER = re.compile(
    r"(args|arguments|parameters|params|keyword args|keyword arguments|attributes|fields|returns?|yields?"
    r"|raises|examples?|notes?|see also|todo|warnings?|references)\s*:\s*",
    re.IGNORECASE,
)
_GOOGLE_ENTRY = re.compile(r"\*{0,2}(\w+)\s*(?:\([^)]*\))?\s*:\s*(.*)")
_NUMPY_ENTRY = re.compile(r"(\w+(?:\s*,\s*\w+)*)\s*(?::.*)?")
_REST_FIELD = re.compile(r":(\w+)([^:]*):\s*(.*)")
_REST_PARAM_KINDS = frozenset({"param", "parameter", "arg", "argument", "key", "keyword", "ivar", "var"})
_UNDERLINE = re.compile(r"-{3,}\s*")


@dataclass(frozen=True)
class Docstring:
    """``summary``: the text before any section; ``params``: description by parameter name."""

    summary: str = ""
    params: dict[str, str] = field(default_factory=dict)


def parse_docstring(doc: str | None) -> Docstring:
    """Parse ``doc``; unknown layouts just yield the whole text as the summary."""
    if not doc or not doc.strip():
        return Docstring()
    lines = inspect.cleandoc(doc).splitlines()
    params: dict[str, str] = {}
    summary_end = len(lines)
    i = 0
    while i < len(lines):
        line = lines[i]
        stripped = line.strip()
        if not stripped or _indent(line):
            i += 1
            continue
        if _GOOGLE_HEADER.fullmatch(stripped):
            summary_end = min(summary_end, i)
            i = _read_google(lines, i + 1, params, stripped.rstrip(": ").lower() in _PARAM_SECTIONS)
        elif i + 1 < len(lines) and _UNDERLINE.fullmatch(lines[i + 1].strip()):
            summary_end = min(summary_end, i)
            i = _read_numpy(lines, i + 2, params, stripped.lower() in _PARAM_SECTIONS)
        elif _REST_FIELD.fullmatch(stripped):
            summary_end = min(summary_end, i)
            i = _read_rest(lines, i, params)
        else:
            i += 1
    return Docstring(summary=_unwrap(lines[:summary_end]), params=params)


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def _block(lines: list[str], start: int, min_indent: int) -> int:
    """Index of the first non-blank line at or after ``start`` indented less than ``min_indent``."""
    i = start
    while i < len(lines) and (not lines[i].strip() or _indent(lines[i]) >= min_indent):
        i += 1
    return i


def _read_google(lines: list[str], start: int, params: dict[str, str], keep: bool) -> int:
    end = _block(lines, start, 1)
    entries = lines[start:end]
    entry_indent = min((_indent(line) for line in entries if line.strip()), default=0)
    name: str | None = None
    text: list[str] = []
    for line in entries:
        match = _GOOGLE_ENTRY.fullmatch(line.strip()) if _indent(line) == entry_indent else None
        if match:
            _store(params, name, text, keep)
            name, text = match.group(1), [match.group(2)]
        elif name is not None:
            text.append(line.strip())
    _store(params, name, text, keep)
    return end


def _read_numpy(lines: list[str], start: int, params: dict[str, str], keep: bool) -> int:
    i = start
    names: list[str] = []
    text: list[str] = []
    while i < len(lines):
        line = lines[i]
        if line.strip() and not _indent(line):
            if i + 1 < len(lines) and _UNDERLINE.fullmatch(lines[i + 1].strip()):
                break  # next section
            match = _NUMPY_ENTRY.fullmatch(line.strip())
            if not match:
                break
            for each in names:
                _store(params, each, text, keep)
            names, text = [part.strip() for part in match.group(1).split(",")], []
        elif names:
            text.append(line.strip())
        i += 1
    for each in names:
        _store(params, each, text, keep)
    return i


def _read_rest(lines: list[str], start: int, params: dict[str, str]) -> int:
    match = _REST_FIELD.fullmatch(lines[start].strip())
    assert match is not None
    end = _block(lines, start + 1, 1)
    kind, rest, first = match.groups()
    words = rest.split()
    if kind.lower() in _REST_PARAM_KINDS and words:
        _store(params, words[-1], [first, *(line.strip() for line in lines[start + 1 : end])], True)
    return end


def _store(params: dict[str, str], name: str | None, text: list[str], keep: bool) -> None:
    if keep and name:
        description = _unwrap(text)
        if description:
            params.setdefault(name, description)


def _unwrap(lines: list[str]) -> str:
    """Join wrapped lines with spaces and keep blank-line paragraph breaks."""
    paragraphs: list[str] = []
    current: list[str] = []
    for line in lines:
        if line.strip():
            current.append(line.strip())
        elif current:
            paragraphs.append(" ".join(current))
            current = []
    if current:
        paragraphs.append(" ".join(current))
    return "\n\n".join(paragraphs)
