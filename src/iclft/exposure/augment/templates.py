"""Prompt templates: plain text files with {placeholders}, built in or given by the user."""

from __future__ import annotations

import re
from pathlib import Path

from iclft.errors import UserError

BUILT_IN = Path(__file__).resolve().parent.parent / "templates"
REQUIRED = {"local": ("text",), "global": ("corpus", "text")}
PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")


def load_template(kind: str, path: str | None = None) -> str:
    """The `kind` template (local or global): the file at `path`, or the built-in one."""
    file = Path(path).expanduser() if path else BUILT_IN / f"{kind}.txt"
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as e:
        raise UserError(f"augment.{kind}_template: cannot read {file} ({e.strerror})") from None
    found = set(PLACEHOLDER.findall(text))
    missing = [name for name in REQUIRED[kind] if name not in found]
    if missing:
        needed = ", ".join("{" + n + "}" for n in REQUIRED[kind])
        raise UserError(
            f"augment.{kind}_template: {file} lacks placeholder(s) "
            f"{', '.join('{' + n + '}' for n in missing)} (a {kind} template needs {needed})"
        )
    return text


def fill(template: str, **values: str) -> str:
    """The template with each {name} replaced (other braces are left alone)."""
    return PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), template)
