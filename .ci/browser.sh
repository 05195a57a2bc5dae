#!/usr/bin/env bash
# The system part of the browser tests (tests/browser): Debian's Chromium, plus fonts so
# screenshots show text and nbstream's status glyphs (⏹ ⚠ 🔧). Idempotent: installs only
# what is missing. Fails loudly. Playwright's own browser download is not used (it is
# blocked on CI machines): the tests launch /usr/bin/chromium via executable_path.
set -euo pipefail

CHROMIUM=/usr/bin/chromium
PACKAGES=(chromium fonts-dejavu-core fonts-noto-color-emoji)

fail() { echo "browser.sh: FAILED: $*" >&2; exit 1; }

missing=()
for pkg in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done

if [ ${#missing[@]} -gt 0 ]; then
    command -v apt-get >/dev/null 2>&1 || fail "no apt-get here; install ${missing[*]} so that $CHROMIUM exists"
    SUDO=""
    if [ "$(id -u)" != 0 ]; then
        command -v sudo >/dev/null 2>&1 || fail "need root (or sudo) to apt-get install ${missing[*]}"
        SUDO="sudo"
    fi
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -qq || fail "apt-get update"
    $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
        || fail "apt-get install ${missing[*]}"
    echo "browser.sh: installed ${missing[*]}"
fi

version=$("$CHROMIUM" --headless --no-sandbox --version 2>/dev/null) || fail "$CHROMIUM does not start"
echo "browser.sh: $version ready"
