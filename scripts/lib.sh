# shellcheck shell=bash
# Shared by scripts/test and scripts/lint: `source` it, don't run it.
# Provides ROOT, LOG_DIR, ensure_uv, ensure_system_packages, where_commands_are, run_step,
# run_lint and the FAILED_STEPS list.

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
LOG_DIR="$ROOT/.venvs/logs"
TAIL_LINES="${TAIL_LINES:-40}"
FAILED_STEPS=()
# PATH as the caller's shell had it, before ensure_uv changed it.
CALLER_PATH="$PATH"

# Only PyPI is reachable: never let uv try to download a Python build.
export UV_PYTHON_DOWNLOADS=never
export UV_NO_PROGRESS=1

# Puts uv on PATH, installing it from PyPI with pip when it is missing.
ensure_uv() {
    case ":$PATH:" in *":$HOME/.local/bin:"*) ;; *) export PATH="$HOME/.local/bin:$PATH" ;; esac
    command -v uv >/dev/null 2>&1 && return 0
    echo "installing uv from PyPI (pip)" >&2
    local user=() pip=(python3 -m pip install --quiet --disable-pip-version-check)
    # --user outside a virtualenv (so ~/.local/bin/uv); a virtualenv refuses --user.
    if python3 -c 'import sys; sys.exit(sys.prefix != sys.base_prefix)'; then user=(--user); fi
    "${pip[@]}" ${user[@]+"${user[@]}"} uv </dev/null >&2 \
        || "${pip[@]}" ${user[@]+"${user[@]}"} --break-system-packages uv </dev/null >&2 \
        || pip install --quiet uv </dev/null >&2 \
        || { echo "FAIL uv: could not install uv with pip" >&2; return 1; }
    hash -r
    if ! command -v uv >/dev/null 2>&1; then
        # pip put it somewhere not on PATH (a pyenv version's bin without a shim, a user base
        # other than ~/.local): ask the uv package where its binary is.
        local bin
        bin="$(python3 -c 'import uv; print(uv.find_uv_bin())' 2>/dev/null)" || bin=""
        if [ -n "$bin" ]; then
            PATH="$(dirname "$bin"):$PATH"
            export PATH
        fi
    fi
    command -v uv >/dev/null 2>&1 || { echo "FAIL uv: installed but not found on PATH" >&2; return 1; }
    echo "using $(uv --version) at $(command -v uv)" >&2
}

# Prints the last $TAIL_LINES lines of a log file, indented, with its path.
show_tail() {
    echo "    --- last $TAIL_LINES lines of ${1#"$ROOT"/} ---"
    tail -n "$TAIL_LINES" "$1" | sed 's/^/    /'
}

# run_step NAME COMMAND...: runs COMMAND from the repo root with its output in
# $LOG_DIR/NAME.log, prints "PASS NAME" or "FAIL NAME" (and the log's tail), returns its status.
run_step() {
    local name="$1" rc=0
    shift
    mkdir -p "$LOG_DIR"
    local log="$LOG_DIR/$name.log"
    (cd "$ROOT" && "$@") >"$log" 2>&1 </dev/null || rc=$?
    if [ "$rc" -eq 0 ]; then
        echo "PASS $name"
    else
        echo "FAIL $name (exit $rc)"
        show_tail "$log"
        FAILED_STEPS+=("$name")
    fi
    return "$rc"
}

# The static checks, shared by scripts/lint and scripts/test. Returns non-zero if any failed.
run_lint() {
    local rc=0
    run_step lint uv run --frozen ruff check . || rc=1
    run_step format uv run --frozen ruff format --check . || rc=1
    run_step mypy "$ROOT/scripts/typecheck" || rc=1
    return "$rc"
}

# Prints how to reach uv and the fastware command from a new shell: the absolute path of
# each, and the PATH line to add when the caller's shell would not find uv.
where_commands_are() {
    local uv_path
    uv_path="$(command -v uv)"
    echo "  the fastware command: $ROOT/.venv/bin/fastware (or 'uv run fastware' in $ROOT)"
    if ! PATH="$CALLER_PATH" command -v uv >/dev/null 2>&1; then
        echo "  uv is $uv_path, not on your PATH; add it with:" \
            "export PATH=\"$(dirname "$uv_path"):\$PATH\""
    fi
}

# The Debian packages tests-integration starts for real: "COMMAND PACKAGE" pairs.
SYSTEM_PACKAGES=(
    "chromium chromium"         # headless browser tests (tests-integration/browser, sse, auth)
    "openssl openssl"           # the TLS server test makes a self-signed certificate
    "redis-server redis-server" # SSE fan-out, flags and rate limits over a real Redis
    "node nodejs"               # dev mode runs a real Vite (tests-integration/dev)
    "npm npm"                   # ...installed from npm
)

# Installs the missing SYSTEM_PACKAGES with apt-get (as root, or through password-less sudo).
# Where it cannot, prints one line saying what is missing and the command that installs it,
# and returns 1: the integration tests need every one of them.
ensure_system_packages() {
    local missing=() pair cmd pkg apt=(apt-get)
    for pair in "${SYSTEM_PACKAGES[@]}"; do
        read -r cmd pkg <<<"$pair"
        command -v "$cmd" >/dev/null 2>&1 || missing+=("$pkg")
    done
    [ "${#missing[@]}" -eq 0 ] && return 0
    if ! command -v apt-get >/dev/null 2>&1; then
        echo "FAIL system-packages: ${missing[*]} missing and there is no apt-get here;" \
            "install them with your package manager (tests-integration needs them)"
        return 1
    fi
    if [ "$(id -u)" -ne 0 ]; then
        if command -v sudo >/dev/null 2>&1 && sudo -n true >/dev/null 2>&1 </dev/null; then
            apt=(sudo -n DEBIAN_FRONTEND=noninteractive apt-get)
        else
            echo "FAIL system-packages: ${missing[*]} missing and installing needs root; run:" \
                "sudo apt-get install -y ${missing[*]}"
            return 1
        fi
    fi
    echo "installing ${missing[*]} with apt-get (tests-integration needs them)" >&2
    local log="$LOG_DIR/system-packages.log"
    mkdir -p "$LOG_DIR"
    if ! (
        export DEBIAN_FRONTEND=noninteractive
        "${apt[@]}" update -qq && "${apt[@]}" install -y -qq "${missing[@]}"
    ) >"$log" 2>&1 </dev/null; then
        echo "FAIL system-packages: apt-get install ${missing[*]} failed (log: ${log#"$ROOT"/})"
        return 1
    fi
}
