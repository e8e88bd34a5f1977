"""Print the server's OpenAPI document, as served at /api/v1/openapi.json, without a server.

The web UI's API types (src/api/schema.d.ts) are generated from it by `npm run gen:api`. The
app is built with the development profile's settings (the environment ignored) and an empty
registry, so the document holds the HTTP API itself and no deployment's workflows (the UI reads
those schemas from the catalog at run time).
"""

from __future__ import annotations

import json
import sys

from nanobrain.config import load_settings
from nanobrain.core.registry import Registry
from nanobrain.web.app import create_api


def main() -> None:
    document = create_api(load_settings(environ={}), Registry()).openapi()
    json.dump(document, sys.stdout, indent=2, sort_keys=True)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
