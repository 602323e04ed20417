"""Run every benchmark: ``python -m bench`` (or ``make bench``)."""

from __future__ import annotations

from bench import asgi_servers

if __name__ == "__main__":
    asgi_servers.main()
