#!/usr/bin/env bash
# dev.sh: set up, run and test Stampede on one Debian 12 machine.
#
#   contrib/dev.sh up      install what is missing, build, start a private
#                          PostgreSQL + Redis under var/, start the server
#   contrib/dev.sh down    stop what `up` started
#   contrib/dev.sh status  what is running
#   contrib/dev.sh test    install, build, run the whole suite against a
#                          throw-away PostgreSQL + Redis (normal build and
#                          ASan/UBSan build), then stop them
#   contrib/dev.sh deps    only install the Debian packages
#   contrib/dev.sh build   only install and build (build/stampede)
#
# Everything it starts listens on 127.0.0.1 only. Running `up` twice is
# harmless. Environment: STAMPEDE_LISTEN (default 127.0.0.1:8420),
# STAMPEDE_LIVE_LISTEN (the WebSocket gateway, 127.0.0.1:8421),
# STAMPEDE_PG_PORT (54329), STAMPEDE_REDIS_PORT (63799), JOBS (make -j).
set -euo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
cd "$top"
var=$top/var
listen=${STAMPEDE_LISTEN:-127.0.0.1:8420}
live=${STAMPEDE_LIVE_LISTEN:-127.0.0.1:8421}
jobs=${JOBS:-$(nproc)}

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }
die() { printf 'dev.sh: %s\n' "$*" >&2; exit 1; }

PACKAGES=(
    build-essential autoconf automake pkg-config
    libevent-dev libevhtp-dev libonig-dev libssl-dev libgnutls28-dev libpq-dev
    libhiredis-dev libyajl-dev libwebsockets-dev libwebsockets-evlib-ev libev-dev libpcre2-dev check
    postgresql-15 postgresql-client-15 redis-server
    iproute2 curl procps jq tzdata
    clang-14 libclang-rt-14-dev
)

deps() {
    local missing=()
    for p in "${PACKAGES[@]}" "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return
    say "installing ${missing[*]}"
    local sudo=
    [ "$(id -u)" = 0 ] || sudo=sudo
    export DEBIAN_FRONTEND=noninteractive
    $sudo apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null 2>&1 || {
        $sudo apt-get update -qq
        $sudo apt-get install -y --no-install-recommends "${missing[@]}"
    }
}

# node_deps [--dev]: Node.js and npm (Debian's, unless some Node.js is there
# already), then the dashboard's npm packages into contrib/dashboard/node_modules
# (git-ignored): uPlot for the page; with --dev also playwright-core for its
# browser test.
node_deps() {
    local need=()
    command -v node >/dev/null || need+=(nodejs)
    command -v npm >/dev/null || need+=(npm)
    [ ${#need[@]} -eq 0 ] || deps "${need[@]}"
    local dash=$top/contrib/dashboard stamp
    stamp=$dash/node_modules/.stampede-${1:-prod}
    if [ ! -f "$stamp" ] || [ "$dash/package-lock.json" -nt "$stamp" ]; then
        say "npm ci (contrib/dashboard${1:+, with the test tools})"
        if [ "${1:-}" = --dev ]; then
            npm ci --prefix "$dash" --no-audit --no-fund >/dev/null
        else
            npm ci --prefix "$dash" --omit=dev --no-audit --no-fund >/dev/null
        fi
        touch "$stamp"
    fi
}

# build DIR [configure args...]: an out-of-tree build in DIR.
build() {
    local dir=$1
    shift
    if [ -f "$top/config.status" ]; then
        say "the source tree was configured in place; cleaning it so out-of-tree builds work"
        make -C "$top" distclean >/dev/null 2>&1 || rm -f "$top/config.status"
    fi
    if [ ! -x "$top/configure" ] || [ "$top/configure.ac" -nt "$top/configure" ] ||
       [ "$top/Makefile.am" -nt "$top/Makefile.in" ]; then
        say "autoreconf"
        (cd "$top" && autoreconf -fi >/dev/null)
    fi
    mkdir -p "$dir"
    local want="$*"
    if [ ! -f "$dir/Makefile" ] || [ "$(cat "$dir/.configured-with" 2>/dev/null)" != "$want" ]; then
        say "configure $want (in ${dir#"$top"/})"
        (cd "$dir" && "$top/configure" "$@" >configure.log) || { tail -20 "$dir/configure.log"; die "configure failed"; }
        echo "$want" >"$dir/.configured-with"
    fi
    say "make (in ${dir#"$top"/})"
    make -C "$dir" -j"$jobs" >/dev/null || { make -C "$dir" 2>&1 | tail -30; die "build failed"; }
}

server_pid() {
    local f=$var/stampede.pid
    [ -f "$f" ] && kill -0 "$(cat "$f")" 2>/dev/null && cat "$f"
}

wait_health() { # wait_health URL SECONDS
    for _ in $(seq 1 $(( $2 * 10 ))); do
        curl -fsS "$1/healthz" >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    return 1
}

up() {
    deps
    node_deps
    build "$top/build" --enable-werror
    say "PostgreSQL and Redis under var/"
    mkdir -p "$var"
    bash "$top/contrib/stack.sh" start "$var"
    # shellcheck disable=SC1091
    . "$var/stack.env"
    local url="http://$listen"
    if pid=$(server_pid); then
        say "stampede already running (pid $pid)"
    else
        say "starting stampede serve on $listen"
        STAMPEDE_PG_DSN=$STAMPEDE_PG_DSN STAMPEDE_REDIS_URL=$STAMPEDE_REDIS_URL \
            nohup "$top/build/stampede" serve --config "$top/etc/stampede.conf" --listen "$listen" --live-listen "$live" \
            >"$var/stampede.log" 2>&1 </dev/null &
        echo $! >"$var/stampede.pid"
    fi
    wait_health "$url" 15 || { tail -20 "$var/stampede.log"; die "the server did not become healthy"; }
    demo_target
    demo "$url"
    say "ready"
    cat <<EOT

  dashboard  $url/
  API        $url            (log: var/stampede.log)
  live       ws://${live}/v1/live
  health     curl $url/healthz
  metrics    curl $url/metrics
  demo       project "demo" > scenario "shop" > scripts "browse" (closed) and
             "checkout" (open, 50/s), loading the demo target on http://$demo_listen
  run it     curl -X POST $url/v1/runs -H 'Content-Type: application/json' \\
                  -d '{"scenario_id":"$DEMO_SCENARIO"}'
  watch it   curl $url/v1/runs?limit=1
  stop       contrib/dev.sh down

EOT
}

demo_listen=${STAMPEDE_DEMO_TARGET:-127.0.0.1:8080}

# The demo target: the HTTP server the integration tests load (routes in
# tests/target/README.md), on 127.0.0.1:8080.
demo_target() {
    local f=$var/target.pid
    if [ -f "$f" ] && kill -0 "$(cat "$f")" 2>/dev/null; then return; fi
    make -C "$top/build" tests/target/stampede-target >/dev/null
    say "starting the demo target on $demo_listen"
    nohup "$top/build/tests/target/stampede-target" --host "${demo_listen%:*}" --port "${demo_listen##*:}" \
        >"$var/target.port" 2>"$var/target.log" </dev/null &
    echo $! >"$f"
}

# api METHOD PATH [BODY]: the JSON answer on stdout (errors too).
api() {
    curl -sS -X "$1" "$2" -H 'Content-Type: application/json' ${3:+-d "$3"}
}

# demo URL: a project, a scenario and two scripts to start from. Running it
# again finds them (names are unique) instead of making more.
demo() {
    local url=$1 pid sid def
    api POST "$url/v1/projects" '{"name":"demo","description":"created by contrib/dev.sh up"}' >/dev/null
    pid=$(api GET "$url/v1/projects?q=demo&limit=200" | jq -r '.items[] | select(.name=="demo") | .id')
    api POST "$url/v1/projects/$pid/scenarios" '{"name":"shop","tags":["demo"]}' >/dev/null
    sid=$(api GET "$url/v1/projects/$pid/scenarios?q=shop" | jq -r '.items[] | select(.name=="shop") | .id')
    def='{"target":"http://'"$demo_listen"'","steps":[{"name":"home","path":"/"},{"name":"product","path":"/delay?ms=5"}],
          "load":{"executor":"constant-vus","vus":10,"duration":"30s"},"thresholds":{"http_req_duration":["p(95)<100"]}}'
    api POST "$url/v1/scenarios/$sid/scripts" '{"name":"browse","definition":'"$def"'}' >/dev/null
    def='{"target":"http://'"$demo_listen"'","steps":[{"name":"cart","method":"POST","path":"/echo","body":{"sku":42}}],
          "load":{"executor":"constant-arrival-rate","rate":50,"duration":"30s","pre_allocated_vus":5,"max_vus":50}}'
    api POST "$url/v1/scenarios/$sid/scripts" '{"name":"checkout","definition":'"$def"'}' >/dev/null
    DEMO_SCENARIO=$sid
}

down() {
    if [ -f "$var/target.pid" ] && kill -0 "$(cat "$var/target.pid")" 2>/dev/null; then
        say "stopping the demo target"
        kill "$(cat "$var/target.pid")"
    fi
    rm -f "$var/target.pid"
    if pid=$(server_pid); then
        say "stopping stampede (pid $pid)"
        kill "$pid"
        for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    fi
    rm -f "$var/stampede.pid"
    if [ -f "$var/stack.env" ]; then
        say "stopping PostgreSQL and Redis"
        bash "$top/contrib/stack.sh" stop "$var"
    fi
}

status() {
    if pid=$(server_pid); then echo "stampede: running (pid $pid) on $listen"; else echo "stampede: stopped"; fi
    [ -f "$var/stack.env" ] && bash "$top/contrib/stack.sh" status "$var" || echo "stack: never started"
}

# run_suite NAME BUILD_DIR: make check; prints "N passed, N failed".
run_suite() {
    local name=$1 dir=$2 log
    log=$(mktemp)
    say "make check ($name)"
    local rc=0
    make -C "$dir" check >"$log" 2>&1 || rc=$?
    grep -E '^(FAIL|ERROR|XPASS)' "$log" || true
    local pass fail
    pass=$(sed -n 's/^# PASS: *//p' "$log" | tail -1)
    fail=$(( $(sed -n 's/^# FAIL: *//p' "$log" | tail -1 || echo 0) + $(sed -n 's/^# ERROR: *//p' "$log" | tail -1 || echo 0) ))
    if [ -z "$pass" ]; then tail -40 "$log"; pass=0; fail=$(( fail + 1 )); fi
    [ "$rc" = 0 ] || { [ "$fail" -gt 0 ] || fail=1; find "$dir/tests" -name '*.log' -newer "$log" -exec grep -l -E '^not ok|ERROR' {} + 2>/dev/null | head -5 | xargs -r tail -n 30; }
    echo "$name: $pass passed, $fail failed"
    rm -f "$log"
    SUMMARY+=("$name: $pass passed, $fail failed")
    return "$rc"
}

# run_fuzz: every libFuzzer target a few seconds on its seeds
# (contrib/fuzz/README.md); prints "fuzz: N passed, N failed" (N = targets).
run_fuzz() {
    local log rc=0 line
    log=$(mktemp)
    say "fuzz smoke (contrib/fuzz/run.sh --smoke 3)"
    bash "$top/contrib/fuzz/run.sh" --smoke 3 >"$log" 2>&1 || rc=$?
    cat "$log"
    line=$(grep '^fuzz: ' "$log" | tail -1) ||
        line="fuzz: 0 passed, $(bash "$top/contrib/fuzz/run.sh" --list | wc -l) failed"
    rm -f "$log"
    SUMMARY+=("$line")
    return "$rc"
}

test_all() {
    deps chromium
    node_deps --dev
    build "$top/build" --enable-werror
    build "$top/build-asan" --enable-sanitizers --enable-werror
    local stack
    stack=$(mktemp -d /tmp/stampede-test-XXXXXX)
    chmod 755 "$stack"
    # shellcheck disable=SC2064
    trap "bash '$top/contrib/stack.sh' stop '$stack' >/dev/null 2>&1 || true; rm -rf '$stack'" EXIT
    say "throw-away PostgreSQL and Redis in $stack"
    STAMPEDE_PG_PORT=auto STAMPEDE_REDIS_PORT=auto bash "$top/contrib/stack.sh" start "$stack"
    export STAMPEDE_STACK_DIR=$stack
    SUMMARY=()
    local rc=0
    run_suite "build" "$top/build" || rc=1
    run_suite "sanitizers" "$top/build-asan" || rc=1
    run_fuzz || rc=1
    echo
    for s in "${SUMMARY[@]}"; do echo "$s"; done
    return "$rc"
}

case ${1:-} in
up) up ;;
down) down ;;
status) status ;;
test) test_all ;;
deps) deps ;;
build) deps; build "$top/build" --enable-werror ;;
*) sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
