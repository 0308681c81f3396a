# shellcheck shell=bash
# Shared by scripts/test and scripts/lint: `source` it, don't run it.
# Provides ROOT, LOG_DIR, ensure_uv, run_step, run_lint and the FAILED_STEPS list.

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
LOG_DIR="$ROOT/.venvs/logs"
TAIL_LINES="${TAIL_LINES:-40}"
FAILED_STEPS=()

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
