#!/usr/bin/env bash
# stack.sh: a private PostgreSQL and Redis on 127.0.0.1 under one directory,
# for development (contrib/dev.sh) and the integration tests.
#
#   stack.sh start DIR        create (once) and start both; writes DIR/stack.env
#   stack.sh stop DIR         stop both
#   stack.sh pg-stop DIR      stop PostgreSQL at once (-m immediate), as a crash would
#   stack.sh pg-start DIR     start it again on the same port
#   stack.sh redis-stop DIR   stop Redis
#   stack.sh redis-start DIR  start it again on the same port
#   stack.sh createdb DIR NAME   create a database, print its DSN
#   stack.sh status DIR
#
# Ports: STAMPEDE_PG_PORT / STAMPEDE_REDIS_PORT, or "auto" for free ones;
# once chosen they are kept in DIR/stack.env. PostgreSQL refuses to run as
# root, so as root it runs as the 'postgres' user; when that user cannot
# reach DIR (a checkout under /root), the cluster lives under /var/tmp and
# DIR/pg links to it. Nothing outside DIR and that folder is touched.
set -euo pipefail

PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
die() { echo "stack.sh: $*" >&2; exit 1; }

cmd=${1:-}
dir=${2:-}
[ -n "$cmd" ] && [ -n "$dir" ] || die "usage: stack.sh start|stop|pg-stop|pg-start|redis-stop|redis-start|createdb|status DIR [NAME]"
mkdir -p "$dir"
dir=$(cd "$dir" && pwd -P)
envfile=$dir/stack.env

as_pg() {
    if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

# Free in every state: a client socket's local port blocks a bind too.
port_free() {
    ! ss -Htan "sport = :$1" 2>/dev/null | grep -q .
}

pick_port() { # pick_port WANTED DEFAULT
    local p=$1
    if [ "$p" = auto ]; then
        # below the kernel's ephemeral range, where client sockets take ports
        local lo
        lo=$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)
        p=$(( 10000 + RANDOM % (lo - 11000) ))
        while ! port_free "$p"; do p=$(( p + 1 )); done
    fi
    echo "$p"
}

load_env() {
    if [ -f "$envfile" ]; then
        # shellcheck disable=SC1090
        . "$envfile"
    fi
    PG_PORT=${STACK_PG_PORT:-$(pick_port "${STAMPEDE_PG_PORT:-54329}")}
    REDIS_PORT=${STACK_REDIS_PORT:-$(pick_port "${STAMPEDE_REDIS_PORT:-63799}")}
}

pgdata() {
    local link=$dir/pg
    if [ -L "$link" ]; then readlink "$link"; return; fi
    if [ -d "$link" ]; then echo "$link"; return; fi
    if [ "$(id -u)" = 0 ]; then
        id postgres >/dev/null 2>&1 || die "no 'postgres' user: apt-get install postgresql-15"
        if ! runuser -u postgres -- test -x "$dir"; then
            local alt
            alt=/var/tmp/stampede-pg-$(printf '%s' "$dir" | md5sum | cut -c1-12)
            mkdir -p "$alt"
            chown postgres: "$alt"
            chmod 700 "$alt"
            ln -s "$alt" "$link"
            echo "$alt"
            return
        fi
    fi
    mkdir -p "$link"
    echo "$link"
}

# fsync=off is safe against what the tests do (stopping the server, never the
# machine): the data is in the OS cache. synchronous_commit stays on: with it
# off, an immediate stop loses the last ~600 ms of commits (they sit in WAL
# buffers), and a test that stops PostgreSQL right after creating the schema
# finds the tables gone when it comes back.
pg_opts() {
    echo "-p $PG_PORT -k $1 -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off -c max_connections=200"
}

pg_running() {
    local d=$1
    [ -f "$d/PG_VERSION" ] && as_pg "$PGBIN/pg_ctl" -D "$d" status >/dev/null 2>&1
}

pg_start() {
    local d
    d=$(pgdata)
    if [ "$(id -u)" = 0 ]; then chown postgres: "$d"; chmod 700 "$d"; fi
    if [ ! -f "$d/PG_VERSION" ]; then
        as_pg "$PGBIN/initdb" -D "$d" -A trust -U stampede --no-sync -E UTF8 --locale=C >"$dir/initdb.log" 2>&1 \
            || { cat "$dir/initdb.log" >&2; die "initdb failed"; }
    fi
    if ! pg_running "$d"; then
        as_pg "$PGBIN/pg_ctl" -D "$d" -o "$(pg_opts "$d")" -l "$d/log" -w -t 30 start >/dev/null \
            || { tail -20 "$d/log" >&2; die "PostgreSQL did not start (port $PG_PORT)"; }
    fi
    if ! "$PGBIN/psql" -h 127.0.0.1 -p "$PG_PORT" -U stampede -d postgres -tAc \
            "SELECT 1 FROM pg_database WHERE datname = 'stampede'" | grep -q 1; then
        "$PGBIN/createdb" -h 127.0.0.1 -p "$PG_PORT" -U stampede stampede
    fi
}

pg_stop() { # pg_stop MODE
    local d
    d=$(pgdata)
    if pg_running "$d"; then
        as_pg "$PGBIN/pg_ctl" -D "$d" -m "$1" -w -t 30 stop >/dev/null
    fi
}

redis_start() {
    mkdir -p "$dir/redis"
    if [ -f "$dir/redis/redis.pid" ] && kill -0 "$(cat "$dir/redis/redis.pid")" 2>/dev/null; then
        return
    fi
    redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --dir "$dir/redis" --daemonize yes \
        --pidfile "$dir/redis/redis.pid" --logfile "$dir/redis/redis.log" \
        --save "" --appendonly no --protected-mode yes >/dev/null
    for _ in $(seq 1 100); do
        redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null | grep -q PONG && return
        sleep 0.05
    done
    tail -20 "$dir/redis/redis.log" >&2 || true
    die "Redis did not start (port $REDIS_PORT)"
}

redis_stop() {
    local pidf=$dir/redis/redis.pid
    if [ -f "$pidf" ] && kill -0 "$(cat "$pidf")" 2>/dev/null; then
        local pid
        pid=$(cat "$pidf")
        kill "$pid"
        for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
    fi
    rm -f "$pidf"
}

write_env() {
    cat >"$envfile" <<EOT
# written by contrib/stack.sh; sourced by dev.sh and the tests
STACK_PG_PORT=$PG_PORT
STACK_REDIS_PORT=$REDIS_PORT
STAMPEDE_PG_DSN="host=127.0.0.1 port=$PG_PORT dbname=stampede user=stampede"
STAMPEDE_REDIS_URL="redis://127.0.0.1:$REDIS_PORT"
EOT
}

load_env
case $cmd in
start)
    command -v redis-server >/dev/null || die "redis-server missing: apt-get install redis-server"
    [ -x "$PGBIN/initdb" ] || die "PostgreSQL 15 missing: apt-get install postgresql-15"
    write_env
    pg_start
    redis_start
    ;;
stop)
    pg_stop fast
    redis_stop
    ;;
pg-stop) pg_stop immediate ;;
pg-start) pg_start ;;
redis-stop) redis_stop ;;
redis-start) redis_start ;;
createdb)
    name=${3:?usage: stack.sh createdb DIR NAME}
    "$PGBIN/createdb" -h 127.0.0.1 -p "$PG_PORT" -U stampede "$name"
    echo "host=127.0.0.1 port=$PG_PORT dbname=$name user=stampede"
    ;;
status)
    d=$(pgdata)
    if pg_running "$d"; then echo "postgres: up (127.0.0.1:$PG_PORT)"; else echo "postgres: down"; fi
    if redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null | grep -q PONG; then
        echo "redis: up (127.0.0.1:$REDIS_PORT)"; else echo "redis: down"; fi
    ;;
*) die "unknown command '$cmd'" ;;
esac
