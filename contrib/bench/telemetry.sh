#!/usr/bin/env bash
# telemetry.sh: the highest sustained rate of OTLP documents, in batches
# of BATCH, that `stampede run` sends to a destination on this machine,
# and its CPU per document.
#
# Starts a private nginx on 127.0.0.1 (WORKERS workers, access log off,
# `return 200` for the OTLP paths: it reads and drops each body) and runs a
# telemetry script (otlp; logs of 100 bytes, metrics and traces in the
# proportion 10:5:2) for DURATION seconds at each total rate in RATES.
# For each: documents per second the destination took (the summary's
# telemetry counts), dropped requests, CPU time of stampede (GNU time)
# per document, and whether the rate held (>= 99% delivered, nothing
# dropped). The last rate that held is the figure. Loopback only; every
# run stops by itself.
#
#   contrib/bench/telemetry.sh
#   RATES="50000 100000 200000 400000 800000" BATCH=100 DURATION=10 LOOPS=2 WORKERS=2
set -euo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)
RATES=${RATES:-50000 100000 200000 400000 800000}
BATCH=${BATCH:-100}
DUR=${DURATION:-10}
LOOPS=${LOOPS:-2}
WORKERS=${WORKERS:-2}
STAMPEDE=${STAMPEDE:-$top/build/stampede}

BENCH=telemetry.sh
. "$top/contrib/bench/lib.sh"
bench_need nginx-light time
bench_stampede

work=$(mktemp -d /tmp/stampede-tel-XXXXXX)
port=$(free_port)
nginx_conf "$WORKERS" 8192 <<EOT
  client_max_body_size 64m;
  server {
    listen 127.0.0.1:$port;
    location / { return 200 '{"partialSuccess":{}}'; }
  }
EOT
nginx -c "$work/nginx.conf" -p "$work" || die "nginx did not start"
trap '[ -f "$work/nginx.pid" ] && kill "$(cat "$work/nginx.pid")" 2>/dev/null; rm -rf "$work"' EXIT
sleep 0.3
echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg); $(nproc) cores; stampede --loops $LOOPS, nginx $WORKERS workers"
printf '%12s %14s %10s %10s %14s %8s\n' "planned/s" "delivered/s" "requests/s" "dropped" "CPU-ns/doc" "held"
best=0
for rate in $RATES; do
    logs=$(( rate * 10 / 17 )); metrics=$(( rate * 5 / 17 )); traces=$(( rate - logs - metrics ))
    cat >"$work/t.json" <<EOT
{"telemetry":{"destination":{"url":"http://127.0.0.1:$port"},"format":"otlp","batch":$BATCH,
 "duration":"${DUR}s","max_vus":2000,"logs":{"rate":$logs,"size":100},"metrics":{"rate":$metrics},
 "traces":{"rate":$traces}}}
EOT
    /usr/bin/time -f '%U %S' -o "$work/time" "$STAMPEDE" run "$work/t.json" --loops "$LOOPS" --quiet \
        --summary-json "$work/sum.json" >/dev/null 2>&1 || true
    read -r u s <"$work/time"
    docs=$(grep -o '"documents":[0-9]*' "$work/sum.json" | cut -d: -f2 | awk '{ n += $1 } END { print n + 0 }')
    dur=$(grep -o '"duration_s":[0-9.]*' "$work/sum.json" | head -1 | cut -d: -f2)
    reqs=$(grep -o '"requests":[0-9]*' "$work/sum.json" | head -1 | cut -d: -f2)
    dropped=$(grep -o '"dropped_iterations":[0-9]*' "$work/sum.json" | head -1 | cut -d: -f2)
    line=$(awk -v d="$docs" -v t="$dur" -v r="$reqs" -v u="$u" -v s="$s" -v p="$rate" -v x="$dropped" 'BEGIN {
        dps = d / t; held = (dps >= 0.99 * p && x == 0) ? "yes" : "no";
        printf "%12d %14.0f %10.0f %10d %14.1f %8s", p, dps, r / t, x, (u + s) * 1e9 / (d > 0 ? d : 1), held }')
    echo "$line"
    case "$line" in *yes) best=$rate ;; esac
done
echo "highest sustained: $best documents/s (OTLP/HTTP JSON, batches of $BATCH)"
