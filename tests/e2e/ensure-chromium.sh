#!/usr/bin/env bash
# The browser tests drive a real headless Chromium from the system's packages (Playwright's
# own browser download is not used). Find one; as root, install Debian's; else say what to do.
set -euo pipefail

find_chromium() {
  if [ -n "${TONGBAN_CHROMIUM:-}" ] && [ -x "${TONGBAN_CHROMIUM}" ]; then echo "$TONGBAN_CHROMIUM"; return; fi
  for name in chromium chromium-browser google-chrome-stable google-chrome; do
    if command -v "$name" >/dev/null 2>&1; then command -v "$name"; return; fi
  done
}

if [ -n "$(find_chromium)" ]; then
  exit 0
fi

if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "Chromium is missing: installing the Debian package 'chromium' for the browser tests…"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends chromium fonts-noto-cjk >/dev/null
  [ -n "$(find_chromium)" ] && exit 0
fi

cat >&2 <<'MSG'
The browser tests need Chromium, and none was found.
Install the package 'chromium' (Debian: sudo apt-get install chromium; Ubuntu: chromium-browser),
or point TONGBAN_CHROMIUM at a Chrome/Chromium binary, then run `make test` again.
MSG
exit 1
