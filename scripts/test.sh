#!/usr/bin/env bash
# Installs everything the tests need, then runs the linter and the whole test suite.
# Extra arguments go to pytest, e.g. `./scripts/test.sh -k oauth`.
set -euo pipefail
cd "$(dirname "$0")/.."

python3 -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt

# The browser tests drive Debian's Chromium. Install it where we may (root with apt, as on CI);
# elsewhere those tests skip with a clear reason.
if ! command -v chromedriver >/dev/null 2>&1 && [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "Installing Chromium for the browser tests..."
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null
fi

python3 -m ruff check .
python3 -m pytest "$@"
