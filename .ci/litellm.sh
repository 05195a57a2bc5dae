#!/usr/bin/env bash
# Provide LiteLLM's proxy as a real Gemini-format peer for tests/peers/test_litellm_gemini.py.
#
# LiteLLM pins many packages, so it lives in its own virtualenv, cached outside the
# checkout and keyed by version (newer versions than the pin failed to install here):
# the script is idempotent. The tests start the proxy themselves, routing model `gemma`
# to llama-server's OpenAI endpoint.
#
# Progress goes to stderr; stdout carries one line for the caller to eval:
#   eval "$(.ci/litellm.sh)"   # sets NBSTREAM_LITELLM (the `litellm` executable)
set -Eeuo pipefail

LITELLM_VERSION="${NBSTREAM_LITELLM_VERSION:-1.106.2}"
CACHE="${NBSTREAM_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/nbstream}"
VENV="$CACHE/litellm-venv-$LITELLM_VERSION"
LITELLM="$VENV/bin/litellm"
PYTHON="${PYTHON:-python3}"

say() { printf 'litellm.sh: %s\n' "$*" >&2; }
die() { printf 'litellm.sh: ERROR: %s\n' "$*" >&2; exit 1; }
trap 'die "failed at line $LINENO: $BASH_COMMAND (exit $?)"' ERR

works() { [ -x "$LITELLM" ] && "$VENV/bin/python" -c "import litellm.proxy.proxy_server" >/dev/null 2>&1; }

if works; then
    say "reusing $VENV"
else
    command -v "$PYTHON" >/dev/null 2>&1 || die "$PYTHON not found; set PYTHON= to a Python 3.11+"
    say "installing litellm[proxy]==$LITELLM_VERSION into $VENV (a few minutes)"
    rm -rf "$VENV.tmp"
    "$PYTHON" -m venv "$VENV.tmp" || die "could not create a virtualenv with $PYTHON -m venv"
    "$VENV.tmp/bin/python" -m pip install --quiet --upgrade pip >&2 || die "could not upgrade pip"
    "$VENV.tmp/bin/python" -m pip install --quiet "litellm[proxy]==$LITELLM_VERSION" >&2 \
        || die "pip could not install litellm[proxy]==$LITELLM_VERSION"
    rm -rf "$VENV"
    mv "$VENV.tmp" "$VENV"   # a half-installed venv is never cached
    # venv scripts name their interpreter by absolute path: rewrite after the move
    sed -i "1s|^#!.*$|#!$VENV/bin/python|" "$VENV"/bin/litellm
    works || die "litellm installed but its proxy does not import ($VENV)"
fi

say "litellm: $LITELLM"
printf 'export NBSTREAM_LITELLM=%q\n' "$LITELLM"
