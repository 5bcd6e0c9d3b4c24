"""Print the fleet server's OpenAPI document (JSON) without starting any service.

Run by `npm run gen:api` from the repository's Python environment; the console's typed
API client is generated from this output.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

from fleet_server.app import create_app
from fleet_server.settings import Settings


def openapi_document() -> dict[str, object]:
    """The app's OpenAPI document; building it touches no database, broker or data dir."""
    with tempfile.TemporaryDirectory() as scratch:
        app = create_app(Settings(environment="test", data_dir=Path(scratch)))
        document: dict[str, object] = app.openapi()
    return document


if __name__ == "__main__":
    json.dump(openapi_document(), sys.stdout, indent=2, sort_keys=True, ensure_ascii=False)
    sys.stdout.write("\n")
