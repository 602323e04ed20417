"""What passkey signatures cost.

The verifier: ``verify_bundle`` on a real ES256 bundle (made by the tests' software
authenticator), in-process, and ``tongban signature verify FILE`` end to end, a fresh Python
process each time as a third party would run it.

    python -m bench.signatures [--rounds 500] [--cli-runs 10]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _percentile(ordered: list[float], fraction: float) -> float:
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


def bench_verifier(rounds: int = 500, cli_runs: int = 10) -> None:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from app.signing.verify import verify_bundle
    from tests.signing.helpers import make_bundle

    # Sealed with a key of its own: the bench needs no TONGBAN_SECRET_KEY.
    data = make_bundle(seal_key=Ed25519PrivateKey.generate())
    verify_bundle(data)  # warm: imports, the CBOR and key parsers
    timings = []
    for _ in range(rounds):
        started = time.perf_counter()
        verify_bundle(data)
        timings.append(time.perf_counter() - started)
    timings.sort()

    env = {key: value for key, value in os.environ.items() if not key.startswith("TONGBAN_")}
    env["PYTHONPATH"] = str(ROOT)
    runs = []
    with tempfile.TemporaryDirectory(prefix="tongban-bench-verify-") as folder:
        path = Path(folder) / "evidence.json"
        path.write_bytes(data)
        command = [sys.executable, "-m", "app.cli", "signature", "verify", str(path)]
        for _ in range(cli_runs):
            started = time.perf_counter()
            subprocess.run(command, cwd=folder, env=env, check=True, capture_output=True)
            runs.append(time.perf_counter() - started)

    print(f"signature verifier, ES256 bundle of {len(data)} bytes")
    print(
        f"  verify_bundle x{rounds}: p50 {statistics.median(timings) * 1e6:.0f} µs, "
        f"p95 {_percentile(timings, 0.95) * 1e6:.0f} µs"
    )
    print(f"  tongban signature verify x{cli_runs}: median {statistics.median(runs) * 1e3:.0f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=500, help="verify_bundle calls")
    parser.add_argument("--cli-runs", type=int, default=10, help="command runs, end to end")
    args = parser.parse_args()
    bench_verifier(args.rounds, args.cli_runs)


if __name__ == "__main__":
    main()
