#!/usr/bin/env bash
# rest_under_load.sh: how responsive the REST API stays while a run
# saturates the worker loops of the same server.
#
# Starts a private PostgreSQL + Redis (contrib/stack.sh), a private nginx
# (1 worker, `return 200 "ok"`), and `stampede serve`; fills runs with
# 1,000 finished runs; then measures GET /v1/runs?limit=20 with wrk
# (1 thread, 4 connections, --latency) twice: idle, and while a closed-model
# run of VUS virtual users loads nginx as fast as it can. Prints the
# percentiles side by side, the run's own request rate, and the goal
# (p99 under load < 5 ms). Every load goes to loopback and stops by itself.
#
#   contrib/bench/rest_under_load.sh
#   VUS=64 DURATION=10 LOOPS=2 STAMPEDE=build/stampede
set -euo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)
VUS=${VUS:-64}
DUR=${DURATION:-10}
LOOPS=${LOOPS:-$(nproc)}
STAMPEDE=${STAMPEDE:-$top/build/stampede}

BENCH=rest_under_load.sh
. "$top/contrib/bench/lib.sh"
bench_need nginx-light wrk jq
bench_stampede

work=$(mktemp -d /tmp/stampede-rest-XXXXXX)
chmod 755 "$work"
ngx=$(free_port)
api_port=$(free_port)
api="http://127.0.0.1:$api_port"
nginx_conf 1 4096 <<EOT
  server { listen 127.0.0.1:$ngx; location / { return 200 "ok"; } }
EOT
cleanup() {
    [ -n "${srv:-}" ] && kill "$srv" 2>/dev/null && wait "$srv" 2>/dev/null || true
    [ -f "$work/nginx.pid" ] && kill "$(cat "$work/nginx.pid")" 2>/dev/null || true
    bash "$top/contrib/stack.sh" stop "$work/stack" >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT
nginx -c "$work/nginx.conf" -p "$work" || die "nginx did not start"
STAMPEDE_PG_PORT=auto STAMPEDE_REDIS_PORT=auto bash "$top/contrib/stack.sh" start "$work/stack" >/dev/null
# shellcheck disable=SC1091
. "$work/stack/stack.env"
"$STAMPEDE" serve --listen "127.0.0.1:$api_port" --pg-dsn "$STAMPEDE_PG_DSN" --redis-url "$STAMPEDE_REDIS_URL" \
    --loops "$LOOPS" --log-level warn 2>"$work/server.log" &
srv=$!
for _ in $(seq 1 100); do curl -fs "$api/healthz" >/dev/null && break; sleep 0.1; done
curl -fs "$api/healthz" >/dev/null || { cat "$work/server.log"; die "the server did not start"; }

j() { curl -sS -X "$1" "$api$2" -H 'Content-Type: application/json' ${3:+-d "$3"}; }
pid=$(j POST /v1/projects '{"name":"bench"}' | jq -r .id)
sid=$(j POST /v1/scenarios '{"project_id":"'"$pid"'","name":"bench"}' | jq -r .id)
def='{"target":"http://127.0.0.1:'"$ngx"'","steps":[{"name":"ok","path":"/"}],
      "load":{"executor":"constant-vus","vus":'"$VUS"',"duration":"'"$((DUR + 4))"'s"}}'
scr=$(j POST /v1/scripts '{"scenario_id":"'"$sid"'","name":"saturate","definition":'"$def"'}' | jq -r .id)
[ -n "$scr" ] && [ "$scr" != null ] || die "cannot create the script"
# History to list: 1,000 finished runs.
"/usr/lib/postgresql/15/bin/psql" -q "$STAMPEDE_PG_DSN" -c "
  INSERT INTO runs (kind, project_id, scenario_id, script_id, name, status, created_at, started_at, finished_at)
  SELECT 'script', '$pid', '$sid', '$scr', 'saturate', 'finished', now() - g * interval '1 minute',
         now() - g * interval '1 minute', now() - g * interval '1 minute' + interval '30 seconds'
  FROM generate_series(1, 1000) g" >/dev/null

# measure LABEL: wrk on the list route; sets P50 P90 P99 RPS.
measure() {
    local out=$work/wrk.$1
    wrk -t1 -c"${CONNS:-4}" -d"${DUR}s" --latency "$api/v1/runs?limit=20" >"$out" 2>&1
    ms() { awk -v k="$1" '$1 == k { v = $2; u = v; sub(/[0-9.]+/, "", u); sub(/[a-z]+$/, "", v);
             f = (u == "us") ? 0.001 : (u == "s") ? 1000 : 1; printf "%.3f", v * f }' "$out"; }
    P50=$(ms 50%); P90=$(ms 90%); P99=$(ms 99%)
    RPS=$(awk '/Requests\/sec/ { printf "%.0f", $2 }' "$out")
    ERR=$(awk '/Non-2xx|Socket errors/ { print }' "$out")
    [ -z "$ERR" ] || die "errors while measuring ($1): $ERR"
}

measure idle
I50=$P50 I90=$P90 I99=$P99 IRPS=$RPS
run=$(j POST /v1/runs '{"script_id":"'"$scr"'"}' | jq -r .id)
sleep 2
measure load
for _ in $(seq 1 100); do
    st=$(j GET "/v1/runs/$run" | jq -r .status)
    case $st in finished|failed|cancelled|interrupted) break ;; esac
    sleep 0.5
done
run_rps=$(j GET "/v1/runs/$run/summary" | jq -r '.rps')
lag=$(curl -s "$api/metrics" | awk '/^stampede_loop_lag_seconds\{loop="0"\}/ { printf "%.2f", $2 * 1000 }')

printf '\nGET /v1/runs?limit=20 (1,000 runs stored), wrk -t1 -c%s %ss, %s loops\n' "${CONNS:-4}" "$DUR" "$LOOPS"
printf '%-30s %12s %16s\n' "" "idle" "under load"
printf '%-30s %12s %16s\n' "p50, ms" "$I50" "$P50"
printf '%-30s %12s %16s\n' "p90, ms" "$I90" "$P90"
printf '%-30s %12s %16s   goal < 5 ms\n' "p99, ms" "$I99" "$P99"
printf '%-30s %12s %16s\n' "requests/s" "$IRPS" "$RPS"
printf '%-30s %12s %16s\n' "the run: req/s to nginx" "-" "$run_rps"
printf '%-30s %12s %16s\n' "loop 0 lag after, ms" "-" "${lag:-?}"
awk -v p="$P99" 'BEGIN { exit !(p < 5) }' && echo "p99 under load: within the goal" || echo "p99 under load: OVER the goal"
