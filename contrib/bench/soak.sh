#!/usr/bin/env bash
# soak.sh: does a long open-model run hold still? Runs `stampede run` at
# RATE requests/s (constant-arrival-rate) for DURATION seconds against a
# private nginx on 127.0.0.1, samples the generator's RSS (VmRSS) and CPU
# time (utime+stime, all threads) every 10 s, and prints per minute:
# requests, CPU-us per request, RSS at the minute's end, failed, dropped.
# Verdicts: RSS flat after the first minute (max - min <= 1 MiB), and CPU
# per request constant (every minute after the first within 10% of their
# median). As a control it samples nginx's worker the same way and the
# machine's steal time (/proc/stat): a shared VM's noise moves both
# processes' cost per request, a leak or a growing structure moves only
# stampede's, so it also prints stampede's CPU per request over nginx's
# per minute and judges that ratio by the same 10%. Stops by itself (a hard timeout of DURATION + 120 s), stops
# what it started by PID and removes its work folder.
#
#   contrib/bench/soak.sh
#   RATE=20000 DURATION=600 VUS=256 MAX_VUS=1024 LOOPS=1 TLS=0 STAMPEDE=build/stampede
#   TLS=1: the same against nginx over HTTPS (TLS 1.3, keep-alive).
set -euo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)
RATE=${RATE:-20000}
DUR=${DURATION:-600}
VUS=${VUS:-256}
MAX_VUS=${MAX_VUS:-1024}
LOOPS=${LOOPS:-1}
TLS=${TLS:-0}
STAMPEDE=${STAMPEDE:-$top/build/stampede}
SAMPLE_S=10

BENCH=soak.sh
. "$top/contrib/bench/lib.sh"
bench_need nginx-light time openssl
bench_stampede
[ "$DUR" -ge 120 ] || die "DURATION must be at least 120 s (the first minute is warm-up)"

work=$(mktemp -d /tmp/stampede-soak-XXXXXX)
gen=""
tpid=""
cleanup() {
    [ -n "$gen" ] && kill "$gen" 2>/dev/null || true
    [ -n "$tpid" ] && kill "$tpid" 2>/dev/null || true
    [ -f "$work/nginx.pid" ] && kill "$(cat "$work/nginx.pid")" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

port=$(free_port)
mkdir -p "$work/logs"
if [ "$TLS" = 1 ]; then
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
        -subj /CN=127.0.0.1 -keyout "$work/key.pem" -out "$work/cert.pem" 2>/dev/null ||
        die "openssl could not make a certificate"
    listen="listen 127.0.0.1:$port ssl backlog=8192;
    ssl_certificate $work/cert.pem; ssl_certificate_key $work/key.pem; ssl_protocols TLSv1.3;"
    url="https://127.0.0.1:$port/"
else
    listen="listen 127.0.0.1:$port backlog=8192;"
    url="http://127.0.0.1:$port/"
fi
nginx_conf 1 4096 <<EOT
  server {
    $listen
    location / { return 200 "ok"; }
  }
EOT
nginx -c "$work/nginx.conf" -p "$work" || die "nginx did not start"
sleep 0.3

now() { date +%s.%N; }
# cpu_s PID: utime+stime of every thread, seconds
clk=$(getconf CLK_TCK)
cpu_s() { awk -v hz="$clk" '{ sub(/^.*\) /, ""); printf "%.2f", ($12 + $13) / hz }' "/proc/$1/stat"; }
rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }
# steal and total jiffies of the machine
steal() { awk '/^cpu / { t = 0; for (i = 2; i <= NF; i++) t += $i; print $9, t }' /proc/stat; }
nworker=$(pgrep -P "$(cat "$work/nginx.pid")" | head -1)
[ -n "$nworker" ] || die "no nginx worker"

echo "soak: stampede $("$STAMPEDE" version | awk '{ print $2 }'), $RATE/s for ${DUR}s, $VUS..$MAX_VUS VUs," \
    "$LOOPS loop(s), $url, $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
args=(run --url "$url" --rate "$RATE" --vus "$VUS" --max-vus "$MAX_VUS" --duration "${DUR}s"
      --loops "$LOOPS" --quiet --no-control --summary-json "$work/sum.json" --timeseries-csv "$work/series.csv")
[ "$TLS" = 1 ] && args+=(--insecure)
t0=$(now)
# time -> timeout -> stampede: time's figures include stampede's (the last
# minute's CPU when the process is gone before its final sample)
/usr/bin/time -f '%U %S' -o "$work/time" timeout -s TERM $((DUR + 120)) "$STAMPEDE" "${args[@]}" \
    >"$work/out" 2>"$work/err" &
tpid=$!
for _ in $(seq 1 100); do
    mid=$(pgrep -P "$tpid" || true)
    [ -n "$mid" ] && gen=$(pgrep -P "$mid" || true)
    [ -n "$gen" ] && break
    sleep 0.02
done
[ -n "$gen" ] || die "stampede did not start: $(cat "$work/err")"

# samples: t_s cpu_s rss_kB nginx_cpu_s steal_j total_j, every SAMPLE_S from the start
printf '0 %s %s %s %s\n' "$(cpu_s "$gen")" "$(rss_kb "$gen")" "$(cpu_s "$nworker")" "$(steal)" >"$work/samples"
k=1
while kill -0 "$gen" 2>/dev/null; do
    wait_s=$(awk -v t0="$t0" -v k="$k" -v s="$SAMPLE_S" -v n="$(now)" 'BEGIN { w = t0 + k * s - n; printf "%.3f", (w > 0 ? w : 0) }')
    sleep "$wait_s"
    c=$(cpu_s "$gen" 2>/dev/null) && r=$(rss_kb "$gen" 2>/dev/null) || break
    printf '%d %s %s %s %s\n' $((k * SAMPLE_S)) "$c" "$r" "$(cpu_s "$nworker")" "$(steal)" >>"$work/samples"
    k=$((k + 1))
done
rc=0
wait "$tpid" || rc=$?
gen=""
tpid=""
[ "$rc" -eq 0 ] || [ "$rc" -eq 99 ] || { cat "$work/err" >&2; die "stampede ended with status $rc"; }
total_cpu=$(awk 'END { printf "%.2f", $1 + $2 }' "$work/time")
[ -s "$work/series.csv" ] || die "no series written"

echo
echo "samples every ${SAMPLE_S} s (t, CPU s, RSS kB):"
awk '{ printf "  %4d %8.2f %8d\n", $1, $2, $3 }' "$work/samples" | paste -d' ' - - - | sed 's/^/ /'

# Per minute: CPU from the samples at its ends, requests from the series
# (column 1 is the second since the start, 4 requests, 6 failed, 10 dropped).
echo
printf '%6s %10s %9s %8s %11s %9s %7s %8s %11s %7s %7s\n' minute requests "req/s" "cpu_s" "cpu_us/req" "rss_kB" failed dropped \
    "nginx_us/rq" "ratio" "steal%"
mins=$((DUR / 60))
: >"$work/minutes"
for m in $(seq 1 "$mins"); do
    a=$(((m - 1) * 60))
    b=$((m * 60))
    ca=$(awk -v t="$a" '$1 == t { print $2 }' "$work/samples")
    cb=$(awk -v t="$b" '$1 == t { print $2 }' "$work/samples")
    rb=$(awk -v t="$b" '$1 == t { print $3 }' "$work/samples")
    # nginx's CPU and the steal share over the minute (none when the last sample is missing)
    read -r ncpu st < <(awk -v a="$a" -v b="$b" '$1 == a { n0 = $4; s0 = $5; t0 = $6 } $1 == b { n1 = $4; s1 = $5; t1 = $6 }
        END { if (t1 > t0) printf "%.2f %.1f\n", n1 - n0, 100 * (s1 - s0) / (t1 - t0); else print "nan nan" }' "$work/samples")
    if [ -z "$cb" ] && [ "$m" -eq "$mins" ]; then
        # gone before its last sample: the total (shutdown included), the last RSS seen
        cb=$total_cpu
        rb=$(awk 'END { print $3 }' "$work/samples")
    fi
    [ -n "$ca" ] && [ -n "$cb" ] || continue
    read -r n f d < <(awk -F, -v a="$a" -v b="$b" 'NR > 1 && $1 >= a && $1 < b { n += $4; f += $6; d += $10 }
        END { print n + 0, f + 0, d + 0 }' "$work/series.csv")
    cpu=$(awk -v x="$ca" -v y="$cb" 'BEGIN { printf "%.2f", y - x }')
    per=$(awk -v c="$cpu" -v n="$n" 'BEGIN { if (n > 0) printf "%.3f", c * 1e6 / n; else print "nan" }')
    nper=$(awk -v c="$ncpu" -v n="$n" 'BEGIN { if (n > 0 && c != "nan") printf "%.3f", c * 1e6 / n; else print "nan" }')
    ratio=$(awk -v a="$per" -v b="$nper" 'BEGIN { if (b != "nan" && b > 0) printf "%.3f", a / b; else print "nan" }')
    printf '%6d %10d %9.0f %8.2f %11.3f %9d %7d %8d %11s %7s %7s\n' "$m" "$n" "$(awk -v n="$n" 'BEGIN { print n / 60 }')" \
        "$cpu" "$per" "$rb" "$f" "$d" "$nper" "$ratio" "$st"
    echo "$m $n $cpu $per $rb $f $d $ratio" >>"$work/minutes"
done

echo
# RSS: every sample after the first minute.
read -r rmin rmax < <(awk '$1 >= 60 { if (min == "" || $3 < min) min = $3; if ($3 > max) max = $3 }
    END { print min, max }' "$work/samples")
spread=$((rmax - rmin))
if [ "$spread" -le 1024 ]; then verdict="flat"; else verdict="NOT flat"; fi
echo "RSS after the first minute: $rmin..$rmax kB, spread $spread kB: $verdict (limit 1024 kB)"
# CPU per request: minutes 2.. against their median.
awk '$1 >= 2 { print $4 }' "$work/minutes" | sort -g >"$work/per"
cmed=$(awk '{ a[NR] = $1 } END { if (NR % 2) print a[(NR + 1) / 2]; else printf "%.3f\n", (a[NR / 2] + a[NR / 2 + 1]) / 2 }' "$work/per")
cmin=$(head -1 "$work/per")
cmax=$(tail -1 "$work/per")
dev=$(awk -v m="$cmed" -v a="$cmin" -v b="$cmax" 'BEGIN { x = (m - a) / m; y = (b - m) / m; printf "%.1f", 100 * (x > y ? x : y) }')
if awk -v d="$dev" 'BEGIN { exit !(d <= 10) }'; then verdict="constant"; else verdict="NOT constant"; fi
echo "CPU per request, minutes 2-$mins: median $cmed us, range $cmin..$cmax us (at most $dev% from the median): $verdict (limit 10%)"
# The same for stampede's cost over nginx's (minutes with both figures).
awk '$1 >= 2 && $8 != "nan" { print $8 }' "$work/minutes" | sort -g >"$work/ratio"
if [ -s "$work/ratio" ]; then
    rmed=$(awk '{ a[NR] = $1 } END { if (NR % 2) print a[(NR + 1) / 2]; else printf "%.3f\n", (a[NR / 2] + a[NR / 2 + 1]) / 2 }' "$work/ratio")
    rdev=$(awk -v m="$rmed" -v a="$(head -1 "$work/ratio")" -v b="$(tail -1 "$work/ratio")" \
        'BEGIN { x = (m - a) / m; y = (b - m) / m; printf "%.1f", 100 * (x > y ? x : y) }')
    if awk -v d="$rdev" 'BEGIN { exit !(d <= 10) }'; then verdict="constant"; else verdict="NOT constant"; fi
    echo "stampede/nginx CPU per request, minutes 2-$mins: median $rmed, range $(head -1 "$work/ratio")..$(tail -1 "$work/ratio") (at most $rdev% from the median): $verdict (limit 10%)"
fi
sum=$work/sum.json
j() { grep -o "\"$1\":[0-9.e+-]*" "$sum" | head -1 | cut -d: -f2; }
echo "run: $(j requests) requests, $(j rps)/s, failed $(j failed), dropped $(j dropped_iterations)," \
    "p99 $(grep -o '"corrected":{[^}]*}' "$sum" | grep -o '"p99":[0-9.]*' | head -1 | cut -d: -f2) ms," \
    "send lag p99 $(grep -o '"send_lag_ms":{[^}]*}' "$sum" | grep -o '"p99":[0-9.]*' | head -1 | cut -d: -f2) ms," \
    "vus max $(j vus_max); load at the end $(cut -d' ' -f1-3 /proc/loadavg)"
