#!/usr/bin/env bash
# Headless Chromium for the report test (tests/test_report_build.py opens the HTML report in it).
# Skips quietly when a Chromium is already installed; never fails CI because of apt.
set -uo pipefail
if command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1; then
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "setup-browser: apt-get not available; install Chromium yourself to run the browser test" >&2
    exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq && $SUDO apt-get install -y -qq chromium >/dev/null \
    || echo "setup-browser: could not install chromium (the browser test will fail in CI)" >&2
exit 0
