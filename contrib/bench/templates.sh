#!/usr/bin/env bash
# templates.sh: what templates and extraction cost per request.
#
# Starts a private nginx on 127.0.0.1 (1 worker, access log off) and runs,
# interleaved REPS times, three closed-model scripts of VUS VUs on one loop
# for DURATION seconds each:
#   static     GET /item/42 with two fixed headers
#   templated  GET /item/{{uuid}} with two {{random_int:1:1000000}} headers
#   login      POST /login (JSON body {"token": ...}) extracting $.token,
#              then GET /me with "Authorization: Bearer {{token}}"
# and prints the median CPU time (user+sys of stampede, GNU time) per
# request of each and the ratios to static — goals: templated <= 1.2,
# login <= 1.5 (issue 14). Every load goes to loopback and stops by itself.
#
#   contrib/bench/templates.sh
#   REPS=5 DURATION=8 VUS=32 STAMPEDE=build/stampede
set -euo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)
REPS=${REPS:-5}
DUR=${DURATION:-8}
VUS=${VUS:-32}
STAMPEDE=${STAMPEDE:-$top/build/stampede}

BENCH=templates.sh
. "$top/contrib/bench/lib.sh"
bench_need nginx-light time
bench_stampede

work=$(mktemp -d /tmp/stampede-tmpl-XXXXXX)
port=$(free_port)
nginx_conf 1 4096 <<EOT
  server {
    listen 127.0.0.1:$port;
    location = /login { default_type application/json; return 200 '{"token":"tok-0123456789abcdef","ttl":3600}'; }
    location / { return 200 "ok"; }
  }
EOT
nginx -c "$work/nginx.conf" -p "$work" || die "nginx did not start"
trap '[ -f "$work/nginx.pid" ] && kill "$(cat "$work/nginx.pid")" 2>/dev/null; rm -rf "$work"' EXIT
sleep 0.3
echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"

load="{\"executor\":\"constant-vus\",\"vus\":$VUS,\"duration\":\"${DUR}s\"}"
t="http://127.0.0.1:$port"
cat >"$work/static.json" <<EOT
{"target":"$t","steps":[{"name":"item","path":"/item/42","headers":{"X-A":"12345","X-B":"67890"}}],"load":$load}
EOT
cat >"$work/templated.json" <<EOT
{"target":"$t","steps":[{"name":"item","path":"/item/{{uuid}}",
 "headers":{"X-A":"{{random_int:1:1000000}}","X-B":"{{random_int:1:1000000}}"}}],"load":$load}
EOT
cat >"$work/login.json" <<EOT
{"target":"$t","steps":[{"name":"login","method":"POST","path":"/login","body":{"user":"u"},
  "extract":{"token":{"jsonpath":"\$.token"}}},
 {"name":"me","path":"/me","headers":{"Authorization":"Bearer {{token}}"}}],"load":$load}
EOT

# cpu_per_req SCRIPT -> microseconds of CPU per request
cpu_per_req() {
    /usr/bin/time -f '%U %S' -o "$work/time" "$STAMPEDE" run "$work/$1.json" --loops 1 --quiet \
        --summary-json "$work/sum.json" >/dev/null 2>&1 || true
    local n u s
    n=$(grep -o '"requests":[0-9]*' "$work/sum.json" | head -1 | cut -d: -f2)
    read -r u s <"$work/time"
    awk -v u="$u" -v s="$s" -v n="$n" 'BEGIN { printf "%.3f\n", (u + s) * 1e6 / n }'
}
median() { sort -g | awk '{ a[NR] = $1 } END { if (NR % 2) print a[(NR + 1) / 2]; else printf "%.3f\n", (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

for _ in $(seq 1 "$REPS"); do
    for s in static templated login; do cpu_per_req "$s" >>"$work/$s.txt"; done
done
st=$(median <"$work/static.txt"); tm=$(median <"$work/templated.txt"); lg=$(median <"$work/login.txt")
printf '%-12s %18s %8s %8s\n' "script" "CPU-us/request" "ratio" "goal"
printf '%-12s %18s %8s\n' "static" "$st" "1.00"
printf '%-12s %18s %8s %8s\n' "templated" "$tm" "$(awk -v a="$tm" -v b="$st" 'BEGIN { printf "%.2f", a / b }')" "<= 1.2"
printf '%-12s %18s %8s %8s\n' "login" "$lg" "$(awk -v a="$lg" -v b="$st" 'BEGIN { printf "%.2f", a / b }')" "<= 1.5"
echo "(medians of $REPS interleaved runs, ${DUR}s each, $VUS VUs, one loop; ranges:" \
     "static $(sort -g "$work/static.txt" | head -1)-$(sort -g "$work/static.txt" | tail -1)," \
     "templated $(sort -g "$work/templated.txt" | head -1)-$(sort -g "$work/templated.txt" | tail -1)," \
     "login $(sort -g "$work/login.txt" | head -1)-$(sort -g "$work/login.txt" | tail -1))"
