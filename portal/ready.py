"""`make run`'s last word: wait until the web answers, then print a short banner of where to go and who to be.

Honcho runs it beside web, worker and beat (Procfile) as a plain script: it loads no Django settings, so it
holds no handle on the embedded database. After the banner it waits quietly until honcho stops it (honcho
stops every process as soon as one ends). The banner's body is the text `seed_demo --banner-out` wrote.

    python -P portal/ready.py http://127.0.0.1:8000/ var/demo-banner.txt
"""

from __future__ import annotations

import signal
import sys
import time
import urllib.request
from pathlib import Path

RULE = "=" * 78


def answers(url: str) -> bool:
    """True when `url` (http or https) answers 200 now."""
    if not url.startswith(("http://", "https://")):
        raise ValueError(f"not a web address: {url}")
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 (the scheme is checked above)
            return response.status == 200
    except OSError:
        return False


def wait_for(url: str, *, timeout: float | None = None, interval: float = 0.5) -> bool:
    """Poll `url` until it answers 200; False when `timeout` seconds pass first (None: wait as long as it takes)."""
    deadline = None if timeout is None else time.monotonic() + timeout
    while not answers(url):
        if deadline is not None and time.monotonic() >= deadline:
            return False
        time.sleep(interval)
    return True


def banner(site: str, body: str) -> str:
    """The banner: where Prahari is, then the demo's own lines (who to sign in as, records to try)."""
    lines = [f"Prahari is ready: {site}  (supervisor console: {site}admin/)", *body.strip().splitlines()]
    return "\n".join([RULE, *lines, "Ctrl-C stops web, worker and beat.", RULE])


def main(argv: list[str]) -> int:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # honcho's stop is the normal end
    site = argv[1].rstrip("/") + "/"
    body_file = Path(argv[2]) if len(argv) > 2 else None
    wait_for(f"{site}healthz")
    body = body_file.read_text(encoding="utf-8") if body_file and body_file.exists() else ""
    print(banner(site, body), flush=True)
    try:
        while True:
            signal.pause()
    except KeyboardInterrupt:
        return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
