"""The official VDA 5050 2.1.0 JSON schemas as validators, by topic kind."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

from jsonschema import Draft202012Validator

SCHEMA_DIR = Path(__file__).resolve().parents[1] / "fixtures" / "vda5050" / "2.1.0"
_FILES = {
    "order": "order.schema",
    "instantActions": "instantActions.schema",
    "state": "state.schema",
    "visualization": "visualization.schema",
    "connection": "connection.schema",
    "factsheet": "factsheet.schema",
}


@cache
def validator_for(kind: str) -> Draft202012Validator:
    """A validator for the message carried on topics of that kind."""
    schema = json.loads((SCHEMA_DIR / _FILES[kind]).read_text())
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


def schema_errors(kind: str, message: object) -> list[str]:
    """Every way the message breaks its official schema (empty when valid)."""
    return [
        f"{'/'.join(str(p) for p in err.absolute_path) or '<root>'}: {err.message}"
        for err in validator_for(kind).iter_errors(message)
    ]
