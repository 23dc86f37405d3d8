#!/usr/bin/env bash
# compare.sh: Stampede against wrk and h2load, same machine, same run.
#
# Starts a private nginx on 127.0.0.1 (1 worker, `return 200 "ok"`, access
# log off, unlimited keep-alive), then runs each comparison REPS times,
# interleaved (A B A B ...), and prints medians and ratios:
#   1. closed model, 32 and 256 connections: requests/s, CPU-us per request
#   2. open model at 20k req/s, 256 connections: CPU-us per request, rate
#   3. 10,000 keep-alive connections: max RSS
#   4. stall: 2,000/s for 25 s, nginx SIGSTOPped for 1.0 s mid-run:
#      reported p90/p99/max against the analytic prediction
#   5. https: TLS 1.3 keep-alive, 32 connections, one loop (wrk -t1,
#      stampede --loops 1), both pinned to the last core and nginx's worker
#      to core 0: CPU-us per request, per-pair ratio (median and range)
#   6. handshake: TLS 1.3, a new connection per request (nginx answers with
#      Connection: close), sessions resumed: handshakes/s, CPU-us per
#      handshake, and the share nginx saw resumed ($ssl_session_reused)
# CPU is user+sys of the generator process from GNU time. Every load goes
# to loopback and stops by itself. Pairs alternate which tool goes first.
#
#   contrib/bench/compare.sh [all|closed|open|conns|stall|https|handshake]
#   REPS=3 DURATION=10 STAMPEDE=build/stampede
#   (https: REPS=18 gives a median that holds on a shared machine)
set -euo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)
REPS=${REPS:-3}
DUR=${DURATION:-10}
STAMPEDE=${STAMPEDE:-$top/build/stampede}
what=${1:-all}

BENCH=compare.sh
. "$top/contrib/bench/lib.sh"
bench_need nginx-light wrk nghttp2-client time openssl
bench_stampede
ulimit -n "$(ulimit -Hn)"

work=$(mktemp -d /tmp/stampede-bench-XXXXXX)
port=$(free_port)
url="http://127.0.0.1:$port/"
# TLS: keep-alive on tport, a new connection per request on hport
tport=$(free_port $((port + 1)))
hport=$(free_port $((tport + 1)))
turl="https://127.0.0.1:$tport/"
hurl="https://127.0.0.1:$hport/"
mkdir -p "$work/logs"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
    -subj /CN=127.0.0.1 -keyout "$work/key.pem" -out "$work/cert.pem" 2>/dev/null ||
    die "openssl could not make a certificate"
nginx_conf 1 25000 <<EOT
  server {
    listen 127.0.0.1:$port backlog=8192;
    location / { return 200 "ok"; }
  }
  ssl_certificate $work/cert.pem;
  ssl_certificate_key $work/key.pem;
  ssl_protocols TLSv1.3;
  server {
    listen 127.0.0.1:$tport ssl backlog=8192;
    location / { return 200 "ok"; }
  }
  log_format reuse '\$ssl_session_reused';
  server {
    listen 127.0.0.1:$hport ssl backlog=8192;
    keepalive_timeout 0;
    access_log $work/logs/tls.log reuse buffer=64k;
    location / { return 200 "ok"; }
  }
EOT
nginx -c "$work/nginx.conf" -p "$work" || die "nginx did not start"
cleanup() {
    [ -f "$work/nginx.pid" ] && kill -CONT "$(pgrep -P "$(cat "$work/nginx.pid")" | head -1)" 2>/dev/null || true
    [ -f "$work/nginx.pid" ] && kill "$(cat "$work/nginx.pid")" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
sleep 0.3
worker_pid() { pgrep -P "$(cat "$work/nginx.pid")" | head -1; }

# timed CMD...: runs CMD; sets CPU (s, user+sys) and RSS (kB).
timed() {
    /usr/bin/time -f '%U %S %M' -o "$work/time" "$@" >"$work/out" 2>"$work/err" || true
    read -r u s m <"$work/time"
    CPU=$(awk -v u="$u" -v s="$s" 'BEGIN { printf "%.3f", u + s }')
    RSS=$m
}

json_num() { # json_num FILE KEY: first "KEY":number in the file
    grep -o "\"$1\":[0-9.e+-]*" "$2" | head -1 | cut -d: -f2
}

median() { sort -g | awk '{ a[NR] = $1 } END { if (NR % 2) print a[(NR + 1) / 2]; else printf "%.4f\n", (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }

run_wrk_closed() { # conns -> requests rps cpu_us_per_req
    timed wrk -t1 -c"$1" -d"${DUR}s" "$url"
    local n rps
    n=$(grep -o '[0-9]* requests in' "$work/out" | awk '{ print $1 }')
    rps=$(awk '/Requests\/sec/ { print $2 }' "$work/out")
    echo "$n $rps $(awk -v c="$CPU" -v n="$n" 'BEGIN { printf "%.3f", c * 1e6 / n }')"
}

run_stampede_closed() {
    timed "$STAMPEDE" run --url "$url" --vus "$1" --duration "${DUR}s" --loops 2 --quiet \
        --summary-json "$work/sum.json"
    local n rps
    n=$(json_num requests "$work/sum.json")
    rps=$(json_num rps "$work/sum.json")
    echo "$n $rps $(awk -v c="$CPU" -v n="$n" 'BEGIN { printf "%.3f", c * 1e6 / n }')"
}

closed() {
    for conns in 32 256; do
        : >"$work/wrk.txt"
        : >"$work/st.txt"
        for _ in $(seq 1 "$REPS"); do
            run_wrk_closed "$conns" >>"$work/wrk.txt"
            run_stampede_closed "$conns" >>"$work/st.txt"
        done
        local wr sr wc sc
        wr=$(cut -d' ' -f2 "$work/wrk.txt" | median)
        sr=$(cut -d' ' -f2 "$work/st.txt" | median)
        wc=$(cut -d' ' -f3 "$work/wrk.txt" | median)
        sc=$(cut -d' ' -f3 "$work/st.txt" | median)
        printf '%-34s %14s %14s %9s\n' "closed, $conns connections, ${DUR}s" "wrk -t1" "stampede" "ratio"
        printf '  %-32s %14.0f %14.0f %9s\n' "requests/s (median of $REPS)" "$wr" "$sr" "$(ratio "$sr" "$wr")"
        printf '  %-32s %14.2f %14.2f %9s   target <= 0.85\n' "CPU-us per request" "$wc" "$sc" "$(ratio "$sc" "$wc")"
    done
}

open_model() {
    local rate=20000 conns=256
    local per_client
    per_client=$(awk -v r=$rate -v c=$conns 'BEGIN { printf "%.4f", r / c }')
    : >"$work/h2.txt"
    : >"$work/st.txt"
    for _ in $(seq 1 "$REPS"); do
        timed h2load --h1 -c $conns --rps "$per_client" -D "$DUR" "$url"
        local n r
        n=$(grep -o 'requests: [0-9]* total' "$work/out" | awk '{ print $2 }')
        r=$(grep -o '[0-9.]* req/s' "$work/out" | head -1 | awk '{ print $1 }')
        echo "$r $(awk -v c="$CPU" -v n="$n" 'BEGIN { printf "%.3f", c * 1e6 / n }')" >>"$work/h2.txt"
        timed "$STAMPEDE" run --url "$url" --rate $rate --vus $conns --max-vus $conns \
            --duration "${DUR}s" --loops 2 --quiet --summary-json "$work/sum.json"
        n=$(json_num requests "$work/sum.json")
        r=$(json_num rps "$work/sum.json")
        echo "$r $(awk -v c="$CPU" -v n="$n" 'BEGIN { printf "%.3f", c * 1e6 / n }') $(json_num dropped_iterations "$work/sum.json")" >>"$work/st.txt"
    done
    local hr sr hc sc sd
    hr=$(cut -d' ' -f1 "$work/h2.txt" | median)
    sr=$(cut -d' ' -f1 "$work/st.txt" | median)
    hc=$(cut -d' ' -f2 "$work/h2.txt" | median)
    sc=$(cut -d' ' -f2 "$work/st.txt" | median)
    sd=$(cut -d' ' -f3 "$work/st.txt" | median)
    printf '%-34s %14s %14s %9s\n' "open, ${rate}/s, $conns conns, ${DUR}s" "h2load --h1" "stampede" "ratio"
    printf '  %-32s %14.1f %14.1f %9s   target within 1%% of %d\n' "achieved req/s (median)" "$hr" "$sr" "$(ratio "$sr" "$hr")" $rate
    printf '  %-32s %14.2f %14.2f %9s   target <= 0.70\n' "CPU-us per request" "$hc" "$sc" "$(ratio "$sc" "$hc")"
    printf '  %-32s %14s %14s\n' "dropped iterations (median)" "-" "$sd"
}

conns() {
    local n=10000
    : >"$work/wrk.txt"
    : >"$work/st.txt"
    for _ in $(seq 1 "$REPS"); do
        timed wrk -t1 -c$n -d"${DUR}s" "$url"
        echo "$RSS $(grep -o '[0-9]* requests in' "$work/out" | awk '{ print $1 }')" >>"$work/wrk.txt"
        timed "$STAMPEDE" run --url "$url" --vus $n --duration "${DUR}s" --loops 2 --quiet \
            --summary-json "$work/sum.json"
        echo "$RSS $(json_num requests "$work/sum.json") $(grep -o '"connect":[0-9]*' "$work/sum.json" | head -1 | cut -d: -f2)" >>"$work/st.txt"
    done
    local wm sm se
    wm=$(cut -d' ' -f1 "$work/wrk.txt" | median)
    sm=$(cut -d' ' -f1 "$work/st.txt" | median)
    se=$(cut -d' ' -f3 "$work/st.txt" | median)
    printf '%-34s %14s %14s %9s\n' "$n keep-alive connections, ${DUR}s" "wrk -t1" "stampede" "ratio"
    printf '  %-32s %14.0f %14.0f %9s   target <= 0.50\n' "max RSS, kB (median)" "$wm" "$sm" "$(ratio "$sm" "$wm")"
    printf '  %-32s %14s %14s\n' "connect errors (median)" "-" "$se"
}

stall() {
    cat >"$work/stall.json" <<EOT
{"target": "$url",
 "steps": [{"name": "home", "path": "/"}],
 "load": {"executor": "constant-arrival-rate", "rate": 2000, "duration": "25s",
          "pre_allocated_vus": 100, "max_vus": 5000}}
EOT
    "$STAMPEDE" run "$work/stall.json" --loops 2 --quiet --summary-json "$work/stall-sum.json" \
        >/dev/null 2>&1 &
    local pid=$! w
    sleep 12
    w=$(worker_pid)
    kill -STOP "$w"
    sleep 1.0
    kill -CONT "$w"
    wait "$pid" || true
    local f="$work/stall-sum.json" lat
    lat=$(grep -o '"corrected":{[^}]*}' "$f" | head -1)
    local p90 p99 max n dropped
    p90=$(echo "$lat" | grep -o '"p90":[0-9.]*' | cut -d: -f2)
    p99=$(echo "$lat" | grep -o '"p99":[0-9.]*' | cut -d: -f2)
    max=$(echo "$lat" | grep -o '"max":[0-9.]*' | cut -d: -f2)
    n=$(json_num requests "$f")
    dropped=$(json_num dropped_iterations "$f")
    printf '%-34s %14s %14s %9s\n' "stall: 2000/s, 25 s, 1.0 s SIGSTOP" "predicted" "stampede" "ratio"
    printf '  %-32s %14s %14.1f\n' "p90, ms" "~0" "$p90"
    printf '  %-32s %14.0f %14.1f %9s   target within 10%%\n' "p99, ms" 750 "$p99" "$(ratio "$p99" 750)"
    printf '  %-32s %14s %14.1f %9s   target >= 1000\n' "max, ms" ">= 1000" "$max" "$(ratio "$max" 1000)"
    printf '  %-32s %14s %14s\n' "requests / dropped" "50000 / 0" "$n / $dropped"
}

# The TLS parts pin the generator to the last core and nginx's worker to
# core 0, so the two never share a core and a pair compares like with like.
PIN=()
pin_setup() {
    local n
    n=$(nproc)
    [ "$n" -ge 2 ] || return 0
    PIN=(taskset -c $((n - 1)))
    taskset -pc 0 "$(worker_pid)" >/dev/null
}
pin_reset() {
    [ ${#PIN[@]} -gt 0 ] || return 0
    taskset -pc "0-$(($(nproc) - 1))" "$(worker_pid)" >/dev/null
    PIN=()
}

per_req() { awk -v c="$1" -v n="$2" 'BEGIN { if (n > 0) printf "%.3f", c * 1e6 / n; else print "nan" }'; }

# run_wrk_tls URL CONNS -> requests rps cpu_us_per_request
run_wrk_tls() {
    timed "${PIN[@]}" wrk -t1 -c"$2" -d"${DUR}s" "$1"
    local n rps
    n=$(grep -o '[0-9]* requests in' "$work/out" | awk '{ print $1 }')
    rps=$(awk '/Requests\/sec/ { print $2 }' "$work/out")
    [ -n "$n" ] && [ "$n" -gt 0 ] || { cat "$work/out" "$work/err" >&2; die "wrk made no request on $1"; }
    echo "$n $rps $(per_req "$CPU" "$n")"
}

# run_stampede_tls URL CONNS -> requests rps cpu_us_per_request failed
run_stampede_tls() {
    timed "${PIN[@]}" "$STAMPEDE" run --url "$1" --vus "$2" --duration "${DUR}s" --loops 1 \
        --insecure --quiet --summary-json "$work/sum.json"
    local n
    n=$(json_num requests "$work/sum.json")
    [ -n "$n" ] && [ "$n" -gt 0 ] || { cat "$work/err" >&2; die "stampede made no request on $1"; }
    echo "$n $(json_num rps "$work/sum.json") $(per_req "$CPU" "$n") $(json_num failed "$work/sum.json")"
}

# tls_log_take: flush nginx's buffered access log of the handshake server,
# print "resumed total" for what it holds, and empty it.
tls_log_take() {
    kill -USR1 "$(cat "$work/nginx.pid")"
    sleep 0.5
    awk '$1 == "r" { r++ } END { printf "%d %d\n", r, NR }' "$work/logs/tls.log"
    : >"$work/logs/tls.log"
}

# tls_pairs URL WHAT: REPS pairs, wrk and stampede, the first of each pair
# alternating; lines of "wrk: n rps cpu resumed total  stampede: n rps cpu failed resumed total"
tls_pairs() {
    local i w s wl sl
    : >"$work/pairs.txt"
    [ "$2" = handshake ] && tls_log_take >/dev/null
    for i in $(seq 1 "$REPS"); do
        if [ $((i % 2)) -eq 1 ]; then
            w=$(run_wrk_tls "$1" 32)
            wl=$([ "$2" = handshake ] && tls_log_take || echo "0 0")
            s=$(run_stampede_tls "$1" 32)
            sl=$([ "$2" = handshake ] && tls_log_take || echo "0 0")
        else
            s=$(run_stampede_tls "$1" 32)
            sl=$([ "$2" = handshake ] && tls_log_take || echo "0 0")
            w=$(run_wrk_tls "$1" 32)
            wl=$([ "$2" = handshake ] && tls_log_take || echo "0 0")
        fi
        echo "$w $wl $s $sl" >>"$work/pairs.txt"
    done
}

# tls_report TITLE UNIT: medians and the per-pair CPU ratio of pairs.txt
# (columns: wrk n rps cpu resumed total, stampede n rps cpu failed resumed total)
tls_report() {
    local wr sr wc sc rmed rmin rmax failed
    wr=$(cut -d' ' -f2 "$work/pairs.txt" | median)
    sr=$(cut -d' ' -f7 "$work/pairs.txt" | median)
    wc=$(cut -d' ' -f3 "$work/pairs.txt" | median)
    sc=$(cut -d' ' -f8 "$work/pairs.txt" | median)
    awk '{ printf "%.4f\n", $8 / $3 }' "$work/pairs.txt" >"$work/ratios.txt"
    rmed=$(median <"$work/ratios.txt")
    rmin=$(sort -g "$work/ratios.txt" | head -1)
    rmax=$(sort -g "$work/ratios.txt" | tail -1)
    failed=$(awk '{ f += $9 } END { print f + 0 }' "$work/pairs.txt")
    printf '%-42s %12s %12s %9s\n' "$1" "wrk -t1" "stampede" "ratio"
    printf '  %-40s %12.0f %12.0f %9s\n' "${2}s per second (median of $REPS)" "$wr" "$sr" "$(ratio "$sr" "$wr")"
    printf '  %-40s %12.2f %12.2f %9s\n' "CPU-us per $2 (median)" "$wc" "$sc" "$(ratio "$sc" "$wc")"
    printf '  %-40s %12s %12s %9.2f   range %.2f-%.2f, %d pairs\n' "CPU per $2, per-pair ratio (median)" "" "" \
        "$rmed" "$rmin" "$rmax" "$REPS"
    printf '  %-40s %12s %12s\n' "stampede failed requests (all runs)" "" "$failed"
    RATIO_MEDIAN=$rmed
}

https() {
    pin_setup
    tls_pairs "$turl" keepalive
    pin_reset
    tls_report "https keep-alive, TLS 1.3, 32 conns, ${DUR}s" request
    awk -v r="$RATIO_MEDIAN" 'BEGIN { exit !(r <= 0.9) }' && echo "  target <= 0.90: met" ||
        echo "  target <= 0.90: NOT met"
}

handshake() {
    pin_setup
    tls_pairs "$hurl" handshake
    pin_reset
    tls_report "handshake: TLS 1.3, new conn per request" handshake
    local wres sres
    wres=$(awk '{ r += $4; t += $5 } END { if (t) printf "%.1f", 100 * r / t; else print "n/a" }' "$work/pairs.txt")
    sres=$(awk '{ r += $10; t += $11 } END { if (t) printf "%.1f", 100 * r / t; else print "n/a" }' "$work/pairs.txt")
    printf '  %-40s %12s %12s\n' "sessions resumed (nginx), %" "$wres" "$sres"
    printf '  %-40s %12.0f %12.0f\n' "one core's worth, handshakes/s" \
        "$(awk -v c="$(cut -d' ' -f3 "$work/pairs.txt" | median)" 'BEGIN { print 1e6 / c }')" \
        "$(awk -v c="$(cut -d' ' -f8 "$work/pairs.txt" | median)" 'BEGIN { print 1e6 / c }')"
}

echo "stampede $("$STAMPEDE" version | awk '{ print $2 }'), nginx on $url, $(nproc) cores, REPS=$REPS, load $(cut -d' ' -f1-3 /proc/loadavg)"
case $what in
closed) closed ;;
open) open_model ;;
conns) conns ;;
stall) stall ;;
https) https ;;
handshake) handshake ;;
all) closed; open_model; conns; stall; https; handshake ;;
*) die "unknown part '$what' (all|closed|open|conns|stall|https|handshake)" ;;
esac
