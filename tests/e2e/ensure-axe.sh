#!/usr/bin/env bash
# The browser tests run axe-core in every page they open (tests/e2e/axe.py). It is the npm
# package pinned in tests/e2e/package.json and package-lock.json, installed into
# tests/e2e/node_modules. Nothing to do when that version is there; else install it with npm,
# first installing Debian's nodejs and npm as root when npm is missing; else say what to do.
set -euo pipefail
cd "$(dirname "$0")"

version_in() {  # the "version" (or the pinned axe-core) of a package.json, empty if none
  python3 -c 'import json, sys
data = json.load(open(sys.argv[1]))
print(data.get("dependencies", {}).get("axe-core") or data.get("version", ""))' "$1" 2>/dev/null || true
}

pinned="$(version_in package.json)"
if [ -f node_modules/axe-core/axe.min.js ] && [ "$(version_in node_modules/axe-core/package.json)" = "$pinned" ]; then
  exit 0
fi

if ! command -v npm >/dev/null 2>&1; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "npm is missing: installing the Debian packages 'nodejs' and 'npm' for the browser tests…"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
  fi
fi
if ! command -v npm >/dev/null 2>&1; then
  cat >&2 <<'MSG'
The browser tests need axe-core from npm, and npm was not found.
Install Node.js with npm (Debian/Ubuntu: sudo apt-get install nodejs npm), then run `make test` again.
MSG
  exit 1
fi

echo "Installing axe-core $pinned for the browser tests (tests/e2e/node_modules)…"
if ! npm ci --no-audit --no-fund --loglevel=error; then
  echo "npm could not install axe-core $pinned; the browser tests cannot run without it." >&2
  exit 1
fi
