#!/usr/bin/env bash
# fanout.sh: how fast one run's live frames reach many subscribers, through
# the WebSocket gateway and straight from Redis.
#
# Starts a private PostgreSQL + Redis (contrib/stack.sh), the test target
# (build/tests/target/stampede-target) and `stampede serve`; creates a
# one-script constant-arrival-rate run (RATE/s against the target, one
# frame a second) and, while it runs, for each N in COUNTS:
#   - contrib/bench/fanout.c --ws: N WebSocket subscribers of the run on the
#     gateway for DURATION seconds; publish->receive latency of every frame,
#     frames received against expected, and the CPU of the gateway's threads
#     (stampede-ws*) and of the whole server over the same window;
# once per value of LIVE_THREADS (--live-threads, a new server each time);
# then the same N subscribers on Redis (SUBSCRIBE stampede:run:<id>), with
# Redis's CPU. Prints a table and the goal: p99 < 100 ms at 10,000
# WebSocket subscribers, every subscriber receiving every frame.
# With PERF=1, one more 10,000-subscriber pass under `perf record` on the
# gateway threads (its numbers are left out of the table: perf costs CPU).
# Everything listens on 127.0.0.1 and stops by itself.
#
#   contrib/bench/fanout.sh
#   COUNTS="1000 10000" DURATION=20 LIVE_THREADS="2 1" RATE=20 REDIS=1 PERF=0
#   STAMPEDE=build/stampede KEEP=1 (keep the work folder: logs, raw lines)
set -euo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)
COUNTS=${COUNTS:-1000 10000}
DUR=${DURATION:-20}
THREADS=${LIVE_THREADS:-2 1}
RATE=${RATE:-20}
REDIS=${REDIS:-1}
PERF=${PERF:-0}
STAMPEDE=${STAMPEDE:-$top/build/stampede}
TARGET=$top/build/tests/target/stampede-target

BENCH=fanout.sh
. "$top/contrib/bench/lib.sh"
pkgs=(jq curl iproute2 procps redis-tools redis-server postgresql-15)
[ "$PERF" = 1 ] && pkgs+=(linux-perf)
bench_need "${pkgs[@]}"
# A build in progress (someone else's make) relinks these: give it a minute
# before building here, never two makes in one build folder at once.
for _ in $(seq 1 60); do [ -x "$STAMPEDE" ] && [ -x "$TARGET" ] && break; sleep 1; done
[ -x "$STAMPEDE" ] || "$top/contrib/dev.sh" build
[ -x "$STAMPEDE" ] || die "no stampede binary at $STAMPEDE"
[ -x "$TARGET" ] || make -C "$top/build" tests/target/stampede-target >/dev/null
[ -x "$TARGET" ] || die "no test target at $TARGET"
ulimit -n "$(ulimit -Hn)"
maxn=0
for n in $COUNTS; do [ "$n" -gt "$maxn" ] && maxn=$n; done
[ "$(ulimit -n)" -gt $((maxn + 100)) ] || die "the open-file limit ($(ulimit -n)) is too low for $maxn connections"

# Everything here shares the machine's cores: other work skews every number.
load0=$(cut -d' ' -f1 /proc/loadavg)
awk -v l="$load0" 'BEGIN { exit !(l > 0.7) }' && say "warning: load average $load0 before starting: the numbers will be skewed"

work=$(mktemp -d /tmp/stampede-fanout-XXXXXX)
chmod 755 "$work"
gcc -O2 -Wall -o "$work/fanout" "$top/contrib/bench/fanout.c" || die "cannot build fanout.c"

srv='' tgt='' fan='' prf=''
stop_pid() { # stop_pid PID: TERM, then KILL after 5 s
    [ -n "$1" ] || return 0
    kill "$1" 2>/dev/null || return 0
    for _ in $(seq 1 50); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
}
cleanup() {
    stop_pid "$prf"
    stop_pid "$fan"
    stop_pid "$srv"
    stop_pid "$tgt"
    bash "$top/contrib/stack.sh" stop "$work/stack" >/dev/null 2>&1 || true
    if [ "${KEEP:-0}" = 1 ]; then echo "fanout.sh: kept $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

STAMPEDE_PG_PORT=auto STAMPEDE_REDIS_PORT=auto bash "$top/contrib/stack.sh" start "$work/stack" >/dev/null
# shellcheck disable=SC1091
. "$work/stack/stack.env"
redis_pid=$(cat "$work/stack/redis/redis.pid")
rcli() { redis-cli -h 127.0.0.1 -p "$STACK_REDIS_PORT" "$@"; }
# room for maxn subscribers besides the server's own connections
rcli CONFIG SET maxclients $((maxn + 200)) >/dev/null || say "Redis kept maxclients $(rcli CONFIG GET maxclients | tail -1)"

"$TARGET" --port 0 >"$work/target.out" 2>"$work/target.log" &
tgt=$!
for _ in $(seq 1 50); do grep -q '^PORT ' "$work/target.out" && break; sleep 0.1; done
tport=$(awk '/^PORT / { print $2 }' "$work/target.out")
[ -n "$tport" ] || die "the test target did not start"

api='' live_port=''
start_server() { # start_server THREADS
    local p
    p=$(free_port)
    api="http://127.0.0.1:$p"
    live_port=$(free_port)
    [ "$live_port" != "$p" ] || live_port=$((p + 1))
    "$STAMPEDE" serve --listen "127.0.0.1:$p" --live-listen "127.0.0.1:$live_port" --live-threads "$1" \
        --pg-dsn "$STAMPEDE_PG_DSN" --redis-url "$STAMPEDE_REDIS_URL" --log-level warn \
        2>>"$work/server.log" &
    srv=$!
    for _ in $(seq 1 100); do curl -fs "$api/healthz" >/dev/null && break; sleep 0.1; done
    curl -fs "$api/healthz" >/dev/null || { tail -20 "$work/server.log" >&2; die "the server did not start"; }
}
j() { curl -sS -X "$1" "$api$2" -H 'Content-Type: application/json' ${3:+-d "$3"}; }

scr=
make_script() {
    local pid sid def
    pid=$(j POST /v1/projects '{"name":"fanout"}' | jq -r .id)
    sid=$(j POST /v1/scenarios '{"project_id":"'"$pid"'","name":"fanout"}' | jq -r .id)
    def='{"target":"http://127.0.0.1:'"$tport"'","steps":[{"name":"home","path":"/"}],
          "load":{"executor":"constant-arrival-rate","rate":'"$RATE"',"duration":"30m",
                  "pre_allocated_vus":4,"max_vus":16}}'
    scr=$(j POST /v1/scripts '{"scenario_id":"'"$sid"'","name":"steady","definition":'"$def"'}' | jq -r .id)
    [ -n "$scr" ] && [ "$scr" != null ] || die "cannot create the script"
}

run=
start_run() {
    run=$(j POST /v1/runs '{"script_id":"'"$scr"'"}' | jq -r .id)
    [ -n "$run" ] && [ "$run" != null ] || die "cannot start the run"
    local st=
    for _ in $(seq 1 100); do
        st=$(j GET "/v1/runs/$run" | jq -r .status)
        [ "$st" = running ] && break
        sleep 0.1
    done
    [ "$st" = running ] || die "the run is $st, not running"
    sleep 2 # a few frames first
}

metric() { curl -s "$api/metrics" | awk -v k="$1" '$1 == k { print $2 }'; }
field() { # field FILE KEY: KEY=value (or KEY≈value) in fanout's line
    tr ' ' '\n' <"$1" | awk -v k="$2" 'index($0, k "=") == 1 || index($0, k "≈") == 1 { if (!done++) { v = substr($0, length(k) + 1); sub(/^(=|≈)/, "", v); print v } }'
}

row_fmt='%-11s %6s %6s %9s %15s %7s %7s %7s %9s %9s %8s %6s %9s\n'
# measure LABEL N ARGS...: one fanout pass; appends a row to $work/rows.
measure() {
    local label=$1 n=$2
    local out
    out=$work/fanout.$(echo "$label" | tr -c 'a-z0-9\n' _).$n
    shift 2
    local rep0 slow0 rep1 slow1
    rep0=$(metric stampede_live_replaced_total) slow0=$(metric stampede_live_closed_slow_total)
    say "$label: $n subscribers, ${DUR}s"
    "$work/fanout" "$@" --clients "$n" --seconds "$DUR" -v >"$out" 2>"$out.err" &
    fan=$!
    wait "$fan" || { cat "$out.err" >&2; die "fanout failed"; }
    fan=
    rep1=$(metric stampede_live_replaced_total) slow1=$(metric stampede_live_closed_slow_total)
    tail -1 "$out" >"$out.line"
    # what went wrong, if anything (progress and per-frame lines stay in the file)
    grep -v -e '^  ' -e 'started, ' -e 'window open' -e 'per frame' "$out.err" | sed 's/^/    /' >&2 || true
    local f=$out.line
    [ "$(field "$f" published)" != 0 ] || say "$label: no frame in the window (is the run still running?)"
    printf "$row_fmt" "$label" \
        "$(field "$f" clients)" "$(field "$f" connected)" "$(field "$f" complete)" \
        "$(field "$f" frames)/$(field "$f" expected)" \
        "$(field "$f" p50_ms)" "$(field "$f" p99_ms)" "$(field "$f" max_ms)" \
        "$(field "$f" peer_sel_us_per_frame)" "$(field "$f" peer_cpu_us_per_frame)" \
        "$(field "$f" client_cpu_us_per_frame)" "$(field "$f" pings)" \
        "$([ "$label" = redis ] && echo - || echo "$(( ${rep1:-0} - ${rep0:-0} ))/$(( ${slow1:-0} - ${slow0:-0} ))")" \
        >>"$work/rows"
    cat "$f" >>"$work/raw"
}

# perf_pass: one more pass of maxn subscribers, the gateway threads under perf.
perf_pass() {
    local tids
    tids=$(for d in /proc/"$srv"/task/*; do
               case $(cat "$d/comm") in stampede-ws*) basename "$d" ;; esac
           done | paste -sd, -)
    say "perf: $maxn subscribers, recording the gateway threads ($tids) for 8 s"
    # 12 s: the window ends before the idle-ping round (20 s after connecting)
    "$work/fanout" --ws "$live_port" --run "$run" --clients "$maxn" --seconds 12 -v \
        >"$work/perf.fanout" 2>"$work/perf.fanout.err" &
    fan=$!
    for _ in $(seq 1 600); do grep -q 'window open' "$work/perf.fanout.err" && break; sleep 0.1; done
    sleep 1
    perf record -g -t "$tids" -o "$work/perf.data" -- sleep 8 >/dev/null 2>&1 &
    prf=$!
    wait "$prf" || true
    prf=
    wait "$fan" || true
    fan=
    {
        echo "perf, the gateway threads ($t), $maxn subscribers, 8 s (share of their CPU):"
        perf report -i "$work/perf.data" --stdio --no-children --sort dso 2>/dev/null |
            awk '/^ +[0-9.]+%/ && ++n <= 5 { printf "  %-8s %s\n", $1, $2 }' || true
        echo "  call paths (with children):"
        perf report -i "$work/perf.data" --stdio --children --sort symbol 2>/dev/null |
            awk '/^ +[0-9.]+%/ && ($4 == "__send" || $4 == "net_rx_action" || $4 == "__poll" ||
                 $4 == "sock_def_readable" || $4 == "lws_dll2_add_sorted" || $4 == "tcp_ack") {
                    printf "  %-8s %s\n", $1, $4 }' || true
        echo "  top symbols (self):"
        perf report -i "$work/perf.data" --stdio --no-children --sort dso,symbol 2>/dev/null |
            awk '/^ +[0-9.]+%/ && ++n <= 12 { printf "  %-8s %-20s %s\n", $1, $2, $4 }' || true
    } >"$work/perf.txt"
    sleep 2
}

: >"$work/rows"
: >"$work/raw"
first=1
nthr=$(echo "$THREADS" | wc -w)
i=0
for t in $THREADS; do
    i=$((i + 1))
    start_server "$t"
    [ -n "$first" ] && make_script
    first=
    start_run
    for n in $COUNTS; do
        measure "ws ${t}thr" "$n" --ws "$live_port" --run "$run" --cpu-pid "$srv" --cpu-comm stampede-ws
        sleep 2
    done
    [ "$PERF" = 1 ] && [ "$i" -eq 1 ] && perf_pass
    if [ "$REDIS" = 1 ] && [ "$i" -eq "$nthr" ]; then
        for n in $COUNTS; do
            measure "redis" "$n" --redis "$STACK_REDIS_PORT" --channel "stampede:run:$run" \
                --cpu-pid "$redis_pid" --cpu-comm redis-server
            sleep 2
        done
    fi
    j POST "/v1/runs/$run/stop" >/dev/null || true
    stop_pid "$srv"
    srv=
done

printf '\nlive frames of a one-script run (%s req/s, 1 frame/s), %s s windows, %s cores, loopback (load %s at start, %s at the end)\n' \
    "$RATE" "$DUR" "$(nproc)" "$load0" "$(cut -d' ' -f1 /proc/loadavg)"
printf "$row_fmt" "path" "N" "conn" "complete" "recv/expected" "p50 ms" "p99 ms" "max ms" \
    "gw us/sf" "srv us/sf" "cli us/f" "pings" "repl/slow"
cat "$work/rows"
cat <<'EOT'
  ws Nthr: the gateway with --live-threads N; redis: SUBSCRIBE on Redis itself.
  complete: subscribers that received every frame published in the window.
  gw us/sf: CPU of the gateway threads (stampede-ws*; on redis rows, Redis's threads)
  per subscriber-frame delivered; srv us/sf: the whole server process (Redis);
  cli us/f: this client's CPU per frame received; pings: WebSocket pings answered
  (the gateway pings each client after 20 s without a message from it);
  repl/slow: frames replaced in slow clients' queues / clients closed as slow.
EOT
[ -s "$work/perf.txt" ] && { echo; cat "$work/perf.txt"; }
echo
echo "goal: p99 < 100 ms at 10,000 WebSocket subscribers, every subscriber receiving every frame"
awk '$1 == "ws" && $3 == 10000 { # ws Nthr N conn complete recv/expected p50 p99 ...
        split($6, fe, "/"); ok = ($8 < 100 && $4 == $3 && $5 == $4 && fe[1] == fe[2])
        printf "  --live-threads %s: p99 %s ms, %s of %s subscribers got every frame: %s\n", $2 + 0, $8, $5, $3,
               ok ? "within the goal" : "NOT within the goal"
     }' "$work/rows"
