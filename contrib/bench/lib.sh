# shellcheck shell=bash disable=SC2120 # free_port takes an optional FROM
# lib.sh: what the benchmark scripts share. Source it after setting BENCH
# (the script's name, for messages) and STAMPEDE (the binary to measure):
#
#   top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)
#   BENCH=soak.sh STAMPEDE=${STAMPEDE:-$top/build/stampede}
#   . "$top/contrib/bench/lib.sh"
#   bench_need nginx-light wrk     # Debian packages, installed if missing
#   bench_stampede                 # build the binary if it is not there
#   port=$(free_port)              # a loopback TCP port nothing listens on

# shellcheck disable=SC2154 # top and BENCH: set by the script sourcing this
die() { echo "$BENCH: $*" >&2; exit 1; }
say() { echo "$BENCH: $*" >&2; }

# bench_need PACKAGE...: apt-get install the Debian packages not installed.
bench_need() {
    local p need=()
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need+=("$p")
    done
    [ ${#need[@]} -gt 0 ] || return 0
    say "installing ${need[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${need[@]}" >/dev/null
}

# bench_stampede: $STAMPEDE exists, built by contrib/dev.sh if need be.
bench_stampede() {
    [ -x "$STAMPEDE" ] || "$top/contrib/dev.sh" build
    [ -x "$STAMPEDE" ] || die "no stampede binary at $STAMPEDE"
}

# free_port [FROM]: a port from FROM (default: random in 10000-29999) up
# that no TCP socket uses.
free_port() {
    local p=${1:-$((10000 + RANDOM % 20000))}
    while ss -Htan "sport = :$p" | grep -q .; do p=$((p + 1)); done
    echo "$p"
}

# nginx_conf WORKERS CONNECTIONS: write $work/nginx.conf for a private
# nginx (pid and logs under $work, no access log, keep-alive without end)
# whose http block holds what comes on standard input; start it with
# nginx -c "$work/nginx.conf" -p "$work".
nginx_conf() {
    mkdir -p "$work/logs"
    {
        cat <<EOT
worker_processes $1;
worker_rlimit_nofile $(($2 + 1000));
pid $work/nginx.pid;
error_log $work/logs/error.log warn;
events { worker_connections $2; multi_accept on; }
http {
  access_log off;
  keepalive_requests 1000000000;
  keepalive_timeout 300s;
EOT
        cat
        echo "}"
    } >"$work/nginx.conf"
}
