"""Run every benchmark: ``python -m bench`` (or ``make bench``)."""

from __future__ import annotations

import subprocess
import sys

from bench import asgi_servers

if __name__ == "__main__":
    asgi_servers.main()
    # Its own process: it configures the app through the environment before importing it.
    subprocess.run([sys.executable, "-m", "bench.signin"], check=True)
    subprocess.run([sys.executable, "-m", "bench.pages"], check=True)
    subprocess.run([sys.executable, "-m", "bench.search"], check=True)
    subprocess.run([sys.executable, "-m", "bench.signatures"], check=True)
    subprocess.run([sys.executable, "-m", "bench.identity"], check=True)
    # Shipment events over HTTP: the courier app's endpoint and the courier-company webhook.
    subprocess.run([sys.executable, "-m", "bench.courier"], check=True)
    # A booking stampede: 500 people at once for the 20 places of one slot, over HTTP.
    subprocess.run([sys.executable, "-m", "bench.booking"], check=True)
    # SQLite, 100,000 applications; TONGBAN_BENCH_DATABASE_URL for a million on PostgreSQL.
    subprocess.run([sys.executable, "-m", "bench.inbox"], check=True)
