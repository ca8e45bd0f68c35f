"""Container health check: exit 0 when the URL answers 2xx within 5 seconds.

python /app/deploy/docker/healthcheck.py http://127.0.0.1:9301/metrics
"""

from __future__ import annotations

import sys
import urllib.error
import urllib.request


def main(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:  # noqa: S310 (a local URL)
            return 0 if 200 <= resp.status < 300 else 1
    except (urllib.error.URLError, OSError) as exc:
        print(f"unhealthy: {url}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
