"""Errors raised while importing a site map."""

from __future__ import annotations

from pydantic import ValidationError


class SiteImportError(ValueError):
    """A map file cannot be imported; names the file, the level and the element at fault."""

    def __init__(
        self,
        message: str,
        *,
        file: str,
        level: str | None = None,
        element: str | None = None,
    ) -> None:
        self.file = file
        self.level = level
        self.element = element
        self.reason = message
        parts = [file]
        if level is not None:
            parts.append(f"level {level!r}")
        if element is not None:
            parts.append(element)
        super().__init__(f"{': '.join(parts)}: {message}")


def from_validation_error(exc: ValidationError, *, file: str) -> SiteImportError:
    """Turn a model validation failure during import into a SiteImportError."""
    first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": str(exc)}
    loc = ".".join(str(part) for part in first.get("loc", ()))
    element = f"{exc.title}.{loc}" if loc else exc.title
    return SiteImportError(f"invalid value: {first.get('msg', exc)}", file=file, element=element)
