#!/usr/bin/env python3
"""Container health check: exit 0 when the local service answers ``GET /health`` with 200, 1 otherwise.

The image has no curl; this uses the standard library only. The port comes
from ``FUSIONREC_PORT`` (default 8000), as in the entrypoint; a path other
than ``/health`` can be given as the first argument (``/ready``).

Example:
    $ FUSIONREC_PORT=8000 fusionrec-healthcheck /ready
"""

from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request

TIMEOUT_S = 4.0


def probe(url: str) -> str | None:
    """``None`` when ``url`` answers 200, else the reason it is unhealthy."""
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_S) as response:
            return None if response.status == 200 else f"{url} answered {response.status}"
    except urllib.error.HTTPError as exc:
        return f"{url} answered {exc.code}"
    except (urllib.error.URLError, OSError) as exc:
        return f"{url} is unreachable: {exc}"


def main(argv: list[str]) -> int:
    path = argv[1] if len(argv) > 1 else "/health"
    url = f"http://127.0.0.1:{os.environ.get('FUSIONREC_PORT', '8000')}{path}"
    reason = probe(url)
    if reason is not None:
        print(f"fusionrec-healthcheck: {reason}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
