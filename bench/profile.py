"""Sample a running server with py-spy and say where its time goes.

``bench.pages --profile DIR`` records each case of the real app with ``py-spy record`` (raw,
collapsed stacks: one line per distinct stack, ``frame;frame;frame count``) and prints the
functions that were on the stack most often (inclusive) and those that were running
(self). It can also summarise a file recorded by hand:

    py-spy record --pid PID --subprocesses --format raw --nolineno -o stacks.txt
    python -m bench.profile stacks.txt [--top 25]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path


def record(pid: int, seconds: float, output: Path) -> subprocess.Popen[bytes]:
    """Start sampling ``pid`` and its children for ``seconds``; wait on the returned process."""
    return subprocess.Popen(
        [
            _py_spy(), "record", "--pid", str(pid), "--subprocesses", "--format", "raw",
            "--nolineno", "--nonblocking", "--rate", "250", "--duration", str(max(1, int(seconds))),
            "--output", str(output),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip


def _py_spy() -> str:
    beside = Path(sys.executable).parent / "py-spy"  # installed into the venv with the dev extras
    found = str(beside) if beside.exists() else shutil.which("py-spy")
    if not found:
        sys.exit("--profile needs py-spy: pip install -e '.[dev]'")
    return found


def _frame_name(frame: str) -> str:
    # py-spy writes "function (path/to/module.py)"; keep it short but unambiguous.
    function, _sep, where = frame.partition(" (")
    return f"{function} ({where.rstrip(')')})" if where else function


# Frames every sample passes through (process start, the event loop, the server, threads):
# left out of the inclusive list, which is about what the requests spend their time in.
_PLUMBING = (
    "(<frozen runpy>)", "(click/", "(granian/", "(multiprocessing/", "(app/cli.py)",
    "(threading.py)", "BaseEventLoop.run_", "BaseEventLoop._run_once", "Handle._run",
)  # fmt: skip


def summarise(path: Path, top: int = 20) -> str:
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    total = 0
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        stack, _sep, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        samples = int(count)
        frames = [_frame_name(frame) for frame in stack.split(";")]
        # Skip the process/thread header frame py-spy puts first.
        frames = [frame for frame in frames if not frame.startswith(("process ", "thread "))]
        if not frames:
            continue
        total += samples
        for name in set(frames):
            if not any(marker in name for marker in _PLUMBING):
                inclusive[name] += samples
        own[frames[-1]] += samples
    if not total:
        return f"{path.name}: no samples"
    lines = [f"{path.name}: {total} samples", "  inclusive (on the stack):"]
    lines += [f"    {n / total:6.1%}  {name}" for name, n in inclusive.most_common(top)]
    lines.append("  self (running):")
    lines += [f"    {n / total:6.1%}  {name}" for name, n in own.most_common(top // 2)]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("stacks", type=Path, nargs="+")
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()
    for path in args.stacks:
        print(summarise(path, args.top))


if __name__ == "__main__":
    main()
