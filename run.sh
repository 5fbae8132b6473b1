#!/usr/bin/env bash
# Townhall's two entry points:
#   ./run.sh demo   install and start web server + task worker + Cloud API simulator with demo data
#   ./run.sh test   install and run the checks and the test suite (SQLite, then PostgreSQL + Redis)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$ROOT"
VENV="${TOWNHALL_VENV:-$ROOT/.venv}"
PY="$VENV/bin/python"

log() { printf '\033[1;34m==>\033[0m %s\n' "$*"; }

find_python() {
    for candidate in python3.11 python3; do
        if command -v "$candidate" >/dev/null 2>&1 &&
            "$candidate" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' 2>/dev/null; then
            echo "$candidate"
            return
        fi
    done
    echo "Townhall needs Python 3.11 (python3.11 or python3 on PATH)." >&2
    exit 1
}

# Installs the package into .venv; repeats only when pyproject.toml changed.
install() {
    local extras="$1" stamp
    if [ ! -x "$PY" ]; then
        log "Creating virtualenv in $VENV"
        "$(find_python)" -m venv "$VENV"
    fi
    stamp="$VENV/.townhall-installed-$extras-$(sha256sum pyproject.toml | cut -c1-16)"
    if [ ! -f "$stamp" ]; then
        log "Installing Townhall ($extras)"
        "$PY" -m pip install --quiet --upgrade pip
        if [ "$extras" = "dev" ]; then
            "$PY" -m pip install --quiet -e ".[dev]"
        else
            "$PY" -m pip install --quiet -e .
        fi
        touch "$stamp"
    fi
}

# Debian's Chromium for the browser tests (Playwright never downloads a browser here).
ensure_chromium() {
    if [ -x /usr/bin/chromium ]; then
        return
    fi
    if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
        log "Installing Debian's chromium for the browser tests"
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
    else
        echo "Browser tests need /usr/bin/chromium: sudo apt-get install chromium" >&2
        exit 1
    fi
}

pg_url_default="postgres://postgres@127.0.0.1:5432/test"
redis_url_default="redis://127.0.0.1:6379/15"

ensure_services() {
    if ! "$PY" -c "import psycopg,sys; psycopg.connect(sys.argv[1], connect_timeout=3).close()" \
        "${TOWNHALL_TEST_DATABASE_URL:-$pg_url_default}" 2>/dev/null; then
        log "Starting PostgreSQL"
        pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql)" main start || true
        sleep 2
    fi
    if ! "$PY" -c "import redis,sys; redis.Redis.from_url(sys.argv[1]).ping()" \
        "${TOWNHALL_TEST_REDIS_URL:-$redis_url_default}" 2>/dev/null; then
        log "Starting Redis"
        redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
            --dir /var/lib/redis --logfile /var/log/redis/ci.log || true
        sleep 1
    fi
}

cmd_test() {
    install dev
    ensure_chromium
    ensure_services
    local data status=0
    data="$(mktemp -d "${TMPDIR:-/tmp}/townhall-test.XXXXXX")"
    export TOWNHALL_DATA_DIR="$data" TOWNHALL_SECRET_KEY="test-secret-key-not-for-production"
    export TOWNHALL_HUEY_NAME="townhall-test-$$"

    log "ruff"
    "$VENV/bin/ruff" check . && "$VENV/bin/ruff" format --check . || status=1
    log "migrations are up to date"
    "$PY" manage.py makemigrations --check --dry-run >/dev/null || status=1
    log "mypy"
    "$VENV/bin/mypy" townhall || status=1

    log "tests on SQLite, tasks on Huey's SQLite storage"
    (unset DATABASE_URL REDIS_URL; "$VENV/bin/pytest" "$@") || status=1

    log "tests on PostgreSQL, tasks on Redis"
    DATABASE_URL="${TOWNHALL_TEST_DATABASE_URL:-$pg_url_default}" \
        REDIS_URL="${TOWNHALL_TEST_REDIS_URL:-$redis_url_default}" \
        "$VENV/bin/pytest" "$@" || status=1

    # Once more on another day: the clock starts just before New Year's Eve midnight (unless
    # the caller chose an instant), so a test that depends on today's date shows up here.
    # The date logic lives in the unit tests; the end-to-end and browser tests (real
    # processes, minutes each) ran twice above, so this pass leaves them out to keep CI
    # well under an hour.
    log "tests on SQLite as of ${TOWNHALL_TEST_NOW:-2027-12-31T23:59:50+01:00} (without e2e and browser tests)"
    (unset DATABASE_URL REDIS_URL
        TOWNHALL_TEST_NOW="${TOWNHALL_TEST_NOW:-2027-12-31T23:59:50+01:00}" \
            "$VENV/bin/pytest" -m "not e2e and not browser" "$@") || status=1

    rm -rf "$data"
    if [ "$status" -ne 0 ]; then
        log "FAILED"
    else
        log "all checks passed"
    fi
    return "$status"
}

cmd_demo() {
    install runtime
    local host="${TOWNHALL_HOST:-127.0.0.1}" port="${TOWNHALL_PORT:-8000}"
    local sim_port="${SIMULATOR_PORT:-8001}"
    export WHATSAPP_API_BASE_URL="${WHATSAPP_API_BASE_URL:-http://127.0.0.1:$sim_port}"
    export DJANGO_SETTINGS_MODULE=townhall.settings

    log "Preparing the database (SQLite in ${TOWNHALL_DATA_DIR:-data/})"
    "$PY" manage.py migrate --no-input >/dev/null
    "$PY" manage.py seed_demo --base-url "http://$host:$port"

    pids=()
    # shellcheck disable=SC2329
    stop() {
        trap - INT TERM EXIT
        log "Stopping"
        kill "${pids[@]}" 2>/dev/null || true
        wait 2>/dev/null || true
    }
    trap stop INT TERM EXIT

    "$PY" -m townhall.simulator --host 127.0.0.1 --port "$sim_port" \
        --webhook-url "http://127.0.0.1:$port/webhooks/whatsapp/" &
    pids+=($!)
    "$PY" manage.py run_huey --quiet &
    pids+=($!)
    "$VENV/bin/granian" --interface wsgi --host "$host" --port "$port" \
        --workers "${TOWNHALL_WEB_WORKERS:-2}" --blocking-threads "${TOWNHALL_WEB_THREADS:-8}" --log-level warning \
        townhall.wsgi:application &
    pids+=($!)

    sleep 2
    cat <<EOF

  Townhall is running.
    Staff app:        http://$host:$port/       (login printed above)
    Citizen phones:   http://127.0.0.1:$sim_port/   (the Cloud API simulator: play citizens here)
    Public archive:   http://$host:$port/meldungen/   (the info channel's posts, Atom feed)
  Press Ctrl-C to stop.

EOF
    wait -n "${pids[@]}"
}

case "${1:-}" in
test)
    shift
    cmd_test "$@"
    ;;
demo)
    cmd_demo
    ;;
*)
    echo "usage: ./run.sh demo | ./run.sh test [pytest args]" >&2
    exit 2
    ;;
esac
