"""User-facing errors: bad configs, bad data, unknown names.

A `UserError` is printed by the CLI as one line (no traceback) and exits with code 2.
Anything else is an internal failure and keeps its traceback.
"""


class UserError(Exception):
    """A problem with the user's input, explained in one line."""


def where(path, field: str | None = None) -> str:
    """`path` or `path: field`, for the start of an error line."""
    return f"{path}: {field}" if field else str(path)
