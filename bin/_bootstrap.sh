# shellcheck shell=bash
# Sourced by bin/demo and bin/test: find Python 3.12, get uv, sync the locked environment.
#
# After sourcing: the working directory is the repository root, $ROOT names it,
# $PYTHON312 is the interpreter, $UV is the uv executable and .venv/ matches uv.lock.
# SSL_CERT_FILE (the package proxy's certificate authority) is kept from the environment.

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

_rd_say() { printf '[bootstrap] %s\n' "$*" >&2; }

_rd_is_312() {
    [ -x "$1" ] && "$1" -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 12) else 1)' 2>/dev/null
}

_rd_find_python() {
    local candidate
    if [ -n "${RELEASEDESK_PYTHON:-}" ]; then
        if _rd_is_312 "$RELEASEDESK_PYTHON"; then
            echo "$RELEASEDESK_PYTHON"; return 0
        fi
        _rd_say "RELEASEDESK_PYTHON=$RELEASEDESK_PYTHON is not a Python 3.12 interpreter"
        return 1
    fi
    if command -v pyenv >/dev/null 2>&1; then
        local pyenv_root
        pyenv_root="$(pyenv root 2>/dev/null || true)"
        if [ -n "$pyenv_root" ]; then
            # Newest 3.12.x first.
            for candidate in $(ls -d "$pyenv_root"/versions/3.12*/bin/python3.12 2>/dev/null | sort -rV); do
                if _rd_is_312 "$candidate"; then echo "$candidate"; return 0; fi
            done
        fi
    fi
    for candidate in python3.12 python3 python; do
        if command -v "$candidate" >/dev/null 2>&1; then
            candidate="$(command -v "$candidate")"
            if _rd_is_312 "$candidate"; then echo "$candidate"; return 0; fi
        fi
    done
    return 1
}

if ! PYTHON312="$(_rd_find_python)"; then
    cat >&2 <<'MSG'
ReleaseDesk needs Python 3.12 and none was found.
Looked for: $RELEASEDESK_PYTHON, pyenv versions 3.12.x, python3.12 / python3 / python on PATH.
Install it, for example:
    pyenv install 3.12      (with pyenv)
    apt-get install python3.12   (Debian/Ubuntu with a 3.12 package)
or point RELEASEDESK_PYTHON at a Python 3.12 interpreter, then run this command again.
MSG
    exit 1
fi
export PYTHON312

# uv: use the one on PATH, else a project-local copy in .tools/uv (installed from PyPI).
if [ -n "${UV:-}" ] && [ -x "$UV" ]; then
    :
elif command -v uv >/dev/null 2>&1; then
    UV="$(command -v uv)"
elif [ -x "$ROOT/.tools/uv/bin/uv" ]; then
    UV="$ROOT/.tools/uv/bin/uv"
else
    _rd_say "uv not found: installing it from PyPI into .tools/uv"
    mkdir -p "$ROOT/.tools"
    if ! "$PYTHON312" -m pip --version >/dev/null 2>&1; then
        "$PYTHON312" -m ensurepip --upgrade >/dev/null 2>&1 || true
    fi
    if ! "$PYTHON312" -m pip install --quiet --disable-pip-version-check --root-user-action=ignore --target "$ROOT/.tools/uv" uv; then
        _rd_say "could not install uv with $PYTHON312 -m pip (is the package index reachable?)"
        exit 1
    fi
    UV="$ROOT/.tools/uv/bin/uv"
fi
export UV

# Never download interpreters (impossible here, and the lock pins 3.12 anyway).
export UV_PYTHON_DOWNLOADS=never
export UV_PYTHON="$PYTHON312"
# Keep the environment in .venv whatever the caller's settings.
export UV_PROJECT_ENVIRONMENT="$ROOT/.venv"
export PYTHONTZPATH=""

if ! "$UV" sync --frozen --quiet; then
    _rd_say "'uv sync --frozen' failed (if the error says UnknownIssuer, SSL_CERT_FILE was dropped from the environment)"
    exit 1
fi
