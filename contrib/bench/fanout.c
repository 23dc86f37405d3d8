/* fanout: many subscribers of one run's live frames, for the fan-out
 * benchmark (contrib/bench/fanout.sh). Single-threaded, epoll, libc only:
 *
 *   gcc -O2 -Wall -o fanout contrib/bench/fanout.c
 *
 *   fanout --ws PORT --run RUN_ID --clients N [--seconds S]
 *       N WebSocket connections to ws://127.0.0.1:PORT/v1/live, each
 *       subscribing to run:RUN_ID ({"subscribe":"run:<id>"}).
 *   fanout --redis PORT --channel CH --clients N [--seconds S]
 *       N Redis connections, each sending SUBSCRIBE CH.
 *
 * Other options:
 *   --fps F            frames per second on the channel (the run's scripts; 1)
 *   --batch B          connections being opened at once (500)
 *   --grace MS         how long to wait for the window's last frames (2000)
 *   --connect-timeout S  give up opening connections after S seconds (60)
 *   --cpu-pid PID      sample the CPU of PID's threads over the window:
 *   --cpu-comm PREFIX  ... those whose name starts with PREFIX apart
 *   -v                 per-frame detail and progress on stderr
 *
 * Connections are opened progressively (at most --batch connecting or not
 * yet subscribed at a time), after raising RLIMIT_NOFILE to the hard limit.
 * Once all are subscribed (or failed), the measurement window starts: S
 * seconds, placed half-way between two frames (frames come at a steady
 * phase, which the first frame received tells), so that the frames
 * published in the window and the work of delivering them both fall
 * inside it. Only frames whose t_ms is inside the window count (the
 * latest frame replayed at subscription never does); each one's latency
 * is CLOCK_REALTIME now - t_ms, in a histogram of 0.1 ms buckets up to 10 s.
 * t_ms is whole milliseconds: latencies read up to 1 ms high.
 *
 * The last line on stdout is machine-readable (key=value, space-separated):
 *   clients=N connected=C frames=F expected≈E published=P complete=K
 *   p50_ms=.. p90_ms=.. p99_ms=.. max_ms=.. closed=K ...
 * expected = connected x fps x seconds; published = distinct frames seen
 * in the window; complete = connections that received every one of them. */
#define _GNU_SOURCE
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define RXCAP (1u << 20)          /* the shared read buffer; a message must fit */
#define HIST_BUCKETS 100000       /* 0.1 ms each: up to 10 s */
#define MAX_REASONS 8
#define MAX_PUBLISHED 65536

enum mode { M_WS, M_REDIS };
enum state { S_CONNECTING, S_HANDSHAKE, S_OPEN, S_CLOSED };

struct conn {
    int fd;
    uint8_t state;
    uint8_t subscribed;
    uint8_t counted;        /* still counted in the "in flight" connect window */
    uint8_t msgop;          /* opcode of a fragmented message being assembled, 0 = none */
    uint32_t plen, pcap;    /* bytes left over from the last read (a partial frame) */
    char *pend;
    uint32_t msglen, msgcap; /* fragmented message */
    char *msg;
    uint32_t outlen, outcap; /* bytes not yet written */
    char *out;
    uint32_t frames;        /* frames counted in the window */
    int64_t last_t;         /* t_ms of the last frame (duplicates) */
    double started_ms;      /* when the connect began (monotonic) */
};

struct published {
    int64_t t_ms;
    uint32_t key;           /* hash of the script id */
    uint32_t receivers;
    double min_ms, max_ms;
};

static struct {
    enum mode mode;
    int port, clients, batch, verbose, grace_ms, connect_timeout_s, cpu_pid;
    double seconds, fps;
    const char *run, *channel, *cpu_comm;
    char sub_msg[256];
    size_t sub_len;
} opt = { .clients = 1, .batch = 500, .seconds = 20, .fps = 1, .grace_ms = 2000, .connect_timeout_s = 60 };

static struct conn *conns;
static int epfd;
static char *rxbuf;
static uint64_t hist[HIST_BUCKETS + 1];
static struct published pub[MAX_PUBLISHED];
static int npub, pub_overflow;

/* the window, in CLOCK_REALTIME ms; 0 = not started */
static double win_start, win_end;
static int64_t phase_t = -1; /* t_ms of some frame: their phase */

static struct {
    uint64_t frames, before, after, dups, negative, other_msgs, errors, pings;
    int connected, failed, closed, inflight, next, subscribed;
    double max_ms;
    char first_error[160], close_reason[160];
    struct { char what[96]; int n; } reasons[MAX_REASONS];
    int nreasons;
} st;

static double mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static double wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("fanout: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(2);
}

static void *xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n);
    if (!q)
        die("out of memory");
    return q;
}

/* A reason a connection failed, counted by its text. */
static void reason(const char *fmt, ...)
{
    char buf[96];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    for (int i = 0; i < st.nreasons; i++)
        if (strcmp(st.reasons[i].what, buf) == 0) {
            st.reasons[i].n++;
            return;
        }
    if (st.nreasons < MAX_REASONS) {
        snprintf(st.reasons[st.nreasons].what, sizeof st.reasons[0].what, "%s", buf);
        st.reasons[st.nreasons++].n = 1;
    }
}

/* ---- connections ---- */

static void leave_inflight(struct conn *c)
{
    if (c->counted) {
        c->counted = 0;
        st.inflight--;
    }
}

/* Close c; why != NULL: a failure to count. */
static void conn_close(struct conn *c, const char *why)
{
    if (c->state == S_CLOSED)
        return;
    if (c->subscribed) {
        st.closed++;
        st.connected--;
    } else {
        st.failed++;
    }
    if (why)
        reason("%s", why);
    leave_inflight(c);
    epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    c->fd = -1;
    c->state = S_CLOSED;
    free(c->pend);
    free(c->msg);
    free(c->out);
    c->pend = c->msg = c->out = NULL;
    c->plen = c->pcap = c->msglen = c->msgcap = c->outlen = c->outcap = 0;
}

static void want_write(struct conn *c, int on)
{
    struct epoll_event ev = { .events = EPOLLIN | (on ? EPOLLOUT : 0), .data.u32 = (uint32_t)(c - conns) };
    epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
}

/* Write what is pending; 0, or -1 when c was closed. */
static int conn_flush(struct conn *c)
{
    uint32_t off = 0;
    while (off < c->outlen) {
        ssize_t n = send(c->fd, c->out + off, c->outlen - off, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                break;
            if (errno == EINTR)
                continue;
            char why[96];
            snprintf(why, sizeof why, "send: %s", strerror(errno));
            conn_close(c, why);
            return -1;
        }
        off += (uint32_t)n;
    }
    memmove(c->out, c->out + off, c->outlen - off);
    c->outlen -= off;
    want_write(c, c->outlen > 0);
    return 0;
}

static int conn_send(struct conn *c, const void *data, size_t len)
{
    if (c->outlen + len > c->outcap) {
        c->outcap = (uint32_t)(c->outlen + len + 256);
        c->out = xrealloc(c->out, c->outcap);
    }
    memcpy(c->out + c->outlen, data, len);
    c->outlen += (uint32_t)len;
    return conn_flush(c);
}

/* A masked client frame (RFC 6455 5.3). */
static int ws_send(struct conn *c, int op, const void *payload, size_t len)
{
    unsigned char f[14 + 256];
    size_t h = 0;
    if (len > 256)
        return -1;
    f[h++] = (unsigned char)(0x80 | op);
    if (len < 126) {
        f[h++] = (unsigned char)(0x80 | len);
    } else {
        f[h++] = 0x80 | 126;
        f[h++] = (unsigned char)(len >> 8);
        f[h++] = (unsigned char)len;
    }
    uint32_t key = (uint32_t)rand();
    unsigned char mask[4] = { (unsigned char)key, (unsigned char)(key >> 8), (unsigned char)(key >> 16),
                              (unsigned char)(key >> 24) };
    memcpy(f + h, mask, 4);
    h += 4;
    const unsigned char *p = payload;
    for (size_t i = 0; i < len; i++)
        f[h + i] = p[i] ^ mask[i & 3];
    return conn_send(c, f, h + len);
}

static void conn_start(int i)
{
    struct conn *c = &conns[i];
    memset(c, 0, sizeof *c);
    c->fd = -1;
    c->last_t = -1;
    c->started_ms = mono_ms();
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        st.failed++;
        reason("socket: %s", strerror(errno));
        c->state = S_CLOSED;
        return;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)opt.port) };
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    c->fd = fd;
    c->state = S_CONNECTING;
    c->counted = 1;
    st.inflight++;
    struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT, .data.u32 = (uint32_t)i };
    if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
        die("epoll_ctl: %s", strerror(errno));
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0 && errno != EINPROGRESS) {
        char why[96];
        snprintf(why, sizeof why, "connect: %s", strerror(errno));
        conn_close(c, why);
    }
}

/* The connection is up: ask for the upgrade, or subscribe at once (Redis). */
static void on_connected(struct conn *c)
{
    if (opt.mode == M_WS) {
        char req[512];
        int n = snprintf(req, sizeof req,
                         "GET /v1/live HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\n"
                         "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                         "Sec-WebSocket-Version: 13\r\n\r\n",
                         opt.port);
        c->state = S_HANDSHAKE;
        conn_send(c, req, (size_t)n);
    } else {
        c->state = S_OPEN;
        conn_send(c, opt.sub_msg, opt.sub_len);
    }
}

/* ---- what arrives ---- */

static const char *skip_ws(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
        p++;
    return p;
}

/* The value of the first "key": in a JSON text, or NULL. */
static const char *json_value(const char *s, size_t len, const char *key, size_t klen)
{
    const char *end = s + len, *p = memmem(s, len, key, klen);
    if (!p)
        return NULL;
    p = skip_ws(p + klen, end);
    if (p >= end || *p != ':')
        return NULL;
    p = skip_ws(p + 1, end);
    return p < end ? p : NULL;
}

static int starts(const char *p, const char *end, const char *lit)
{
    size_t n = strlen(lit);
    return (size_t)(end - p) >= n && memcmp(p, lit, n) == 0;
}

static void record(struct conn *c, int64_t t_ms, uint32_t key, double now)
{
    if (phase_t < 0)
        phase_t = t_ms;
    if (win_start == 0 || (double)t_ms < win_start) {
        st.before++;
        return;
    }
    if ((double)t_ms >= win_end) {
        st.after++;
        return;
    }
    if (t_ms == c->last_t) {
        st.dups++;
        return;
    }
    c->last_t = t_ms;
    double lat = now - (double)t_ms;
    if (lat < 0) {
        st.negative++;
        lat = 0;
    }
    long b = (long)(lat * 10.0);
    hist[b < HIST_BUCKETS ? b : HIST_BUCKETS]++;
    if (lat > st.max_ms)
        st.max_ms = lat;
    st.frames++;
    c->frames++;
    /* which frame: most often the newest one */
    for (int i = npub - 1; i >= 0 && i >= npub - 64; i--) {
        if (pub[i].t_ms == t_ms && pub[i].key == key) {
            pub[i].receivers++;
            if (lat < pub[i].min_ms)
                pub[i].min_ms = lat;
            if (lat > pub[i].max_ms)
                pub[i].max_ms = lat;
            return;
        }
    }
    if (npub == MAX_PUBLISHED) {
        pub_overflow = 1;
        return;
    }
    pub[npub++] = (struct published){ t_ms, key, 1, lat, lat };
}

/* One message (a WebSocket text message or a Redis message's payload). */
static void on_message(struct conn *c, const char *s, size_t len, double now)
{
    const char *end = s + len, *v = json_value(s, len, "\"type\"", 6);
    if (v && starts(v, end, "\"frame\"")) {
        const char *t = json_value(s, len, "\"t_ms\"", 6);
        if (!t || !isdigit((unsigned char)*t)) {
            st.other_msgs++;
            return;
        }
        int64_t t_ms = 0;
        while (t < end && isdigit((unsigned char)*t))
            t_ms = t_ms * 10 + (*t++ - '0');
        uint32_t key = 2166136261u; /* FNV-1a of the script id, to tell scripts apart */
        const char *sid = json_value(s, len, "\"script_id\"", 11);
        if (sid && *sid == '"')
            for (sid++; sid < end && *sid != '"'; sid++)
                key = (key ^ (unsigned char)*sid) * 16777619u;
        record(c, t_ms, key, now);
    } else if (v && starts(v, end, "\"subscribed\"")) {
        if (!c->subscribed) {
            c->subscribed = 1;
            st.subscribed++;
            st.connected++;
            leave_inflight(c);
        }
    } else if (v && starts(v, end, "\"error\"")) {
        st.errors++;
        if (!st.first_error[0])
            snprintf(st.first_error, sizeof st.first_error, "%.*s", (int)(len < 150 ? len : 150), s);
    } else {
        st.other_msgs++;
    }
}

/* The upgrade's answer; bytes used, 0 = need more, -1 = c was closed. */
static long ws_handshake(struct conn *c, const char *buf, size_t have)
{
    const char *eoh = memmem(buf, have, "\r\n\r\n", 4);
    if (!eoh) {
        if (have > 16384) {
            conn_close(c, "handshake: no end of headers");
            return -1;
        }
        return 0;
    }
    size_t hl = (size_t)(eoh - buf) + 4;
    if (hl < 12 || memcmp(buf, "HTTP/1.1 101", 12) != 0) {
        char why[96];
        size_t n = strcspn(buf, "\r\n");
        snprintf(why, sizeof why, "handshake: %.*s", (int)(n < 60 ? n : 60), buf);
        conn_close(c, why);
        return -1;
    }
    /* the accept value for our (fixed) key, RFC 6455 1.3 */
    if (!memmem(buf, hl, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", 28)) {
        conn_close(c, "handshake: wrong Sec-WebSocket-Accept");
        return -1;
    }
    c->state = S_OPEN;
    if (ws_send(c, 0x1, opt.sub_msg, opt.sub_len) < 0)
        return -1;
    return (long)hl;
}

/* WebSocket frames; bytes used, or -1 when c was closed. */
static long ws_frames(struct conn *c, char *buf, size_t have, double now)
{
    size_t off = 0;
    while (have - off >= 2) {
        unsigned char *h = (unsigned char *)buf + off;
        int fin = h[0] & 0x80, op = h[0] & 0x0f, masked = h[1] & 0x80;
        uint64_t len = h[1] & 0x7f;
        size_t hl = 2;
        if (len == 126) {
            if (have - off < 4)
                break;
            len = (uint64_t)h[2] << 8 | h[3];
            hl = 4;
        } else if (len == 127) {
            if (have - off < 10)
                break;
            len = 0;
            for (int i = 0; i < 8; i++)
                len = len << 8 | h[2 + i];
            hl = 10;
        }
        if (masked)
            hl += 4;
        if (hl + len > RXCAP / 2) {
            conn_close(c, "a frame too large");
            return -1;
        }
        if (have - off < hl + len)
            break;
        char *p = buf + off + hl;
        if (masked) {
            const unsigned char *m = h + hl - 4;
            for (uint64_t i = 0; i < len; i++)
                p[i] ^= m[i & 3];
        }
        off += hl + len;
        switch (op) {
        case 0x9: /* ping: the same payload back */
            st.pings++;
            if (len <= 125 && ws_send(c, 0xA, p, len) < 0)
                return -1;
            break;
        case 0xA:
            break;
        case 0x8: {
            unsigned code = len >= 2 ? ((unsigned char)p[0] << 8 | (unsigned char)p[1]) : 0;
            if (!st.close_reason[0])
                snprintf(st.close_reason, sizeof st.close_reason, "%u %.*s", code,
                         (int)(len > 2 ? (len - 2 < 120 ? len - 2 : 120) : 0), p + 2);
            char why[64];
            snprintf(why, sizeof why, "closed by the server (%u)", code);
            conn_close(c, c->subscribed ? NULL : why);
            return -1;
        }
        case 0x1:
        case 0x2:
        case 0x0:
            if (op != 0x0 && c->msgop) {
                conn_close(c, "protocol: a new message inside a fragmented one");
                return -1;
            }
            if (op != 0x0 && fin) { /* the usual case: a whole message, read in place */
                if (op == 0x1)
                    on_message(c, p, (size_t)len, now);
                break;
            }
            if (op == 0x0 && !c->msgop) {
                conn_close(c, "protocol: a continuation without a message");
                return -1;
            }
            if (op != 0x0) { /* the first fragment */
                c->msgop = (uint8_t)op;
                c->msglen = 0;
            }
            if (c->msglen + len > RXCAP) {
                conn_close(c, "a message too large");
                return -1;
            }
            if (c->msglen + len > c->msgcap) {
                c->msgcap = (uint32_t)(c->msglen + len) * 2;
                c->msg = xrealloc(c->msg, c->msgcap);
            }
            memcpy(c->msg + c->msglen, p, len);
            c->msglen += (uint32_t)len;
            if (fin) {
                if (c->msgop == 0x1)
                    on_message(c, c->msg, c->msglen, now);
                c->msgop = 0;
                c->msglen = 0;
            }
            break;
        default:
            conn_close(c, "protocol: unknown opcode");
            return -1;
        }
    }
    return (long)off;
}

/* One RESP line: the number after the type byte; pointer past CRLF or NULL. */
static const char *resp_int(const char *p, const char *end, int64_t *out)
{
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    if (!nl)
        return NULL;
    int neg = 0;
    int64_t v = 0;
    p++; /* type byte */
    if (*p == '-') {
        neg = 1;
        p++;
    }
    while (p < nl && isdigit((unsigned char)*p))
        v = v * 10 + (*p++ - '0');
    *out = neg ? -v : v;
    return nl + 1;
}

/* Redis replies; bytes used, or -1 when c was closed. Only what a
 * subscriber gets: arrays of bulk strings and integers, errors. */
static long redis_replies(struct conn *c, const char *buf, size_t have, double now)
{
    size_t off = 0;
    while (off < have) {
        const char *p = buf + off, *end = buf + have;
        if (*p == '-' || *p == '+') {
            const char *nl = memchr(p, '\n', (size_t)(end - p));
            if (!nl)
                break;
            if (*p == '-') {
                st.errors++;
                if (!st.first_error[0])
                    snprintf(st.first_error, sizeof st.first_error, "%.*s", (int)(nl - p - 1), p);
            }
            off = (size_t)(nl + 1 - buf);
            continue;
        }
        if (*p != '*') {
            conn_close(c, "redis: unexpected reply");
            return -1;
        }
        int64_t n;
        const char *q = resp_int(p, end, &n);
        if (!q)
            break;
        const char *el[4] = { 0 };
        int64_t ellen[4] = { 0 };
        int complete = 1;
        for (int64_t i = 0; i < n; i++) {
            if (q >= end) {
                complete = 0;
                break;
            }
            int64_t v;
            char type = *q;
            const char *r = resp_int(q, end, &v);
            if (!r) {
                complete = 0;
                break;
            }
            if (type == '$') {
                if (v < 0) {
                    q = r;
                    continue;
                }
                if (end - r < v + 2) {
                    complete = 0;
                    break;
                }
                if (i < 4) {
                    el[i] = r;
                    ellen[i] = v;
                }
                q = r + v + 2;
            } else if (type == ':') {
                q = r;
            } else {
                conn_close(c, "redis: unexpected element");
                return -1;
            }
        }
        if (!complete) {
            if (have - off > RXCAP / 2) {
                conn_close(c, "redis: a reply too large");
                return -1;
            }
            break;
        }
        off = (size_t)(q - buf);
        if (n == 3 && el[0] && ellen[0] == 7 && memcmp(el[0], "message", 7) == 0 && el[2]) {
            on_message(c, el[2], (size_t)ellen[2], now);
        } else if (n == 3 && el[0] && ellen[0] == 9 && memcmp(el[0], "subscribe", 9) == 0) {
            if (!c->subscribed) {
                c->subscribed = 1;
                st.subscribed++;
                st.connected++;
                leave_inflight(c);
            }
        } else {
            st.other_msgs++;
        }
    }
    return (long)off;
}

static void on_readable(struct conn *c)
{
    size_t have = c->plen;
    if (have)
        memcpy(rxbuf, c->pend, have);
    ssize_t n = recv(c->fd, rxbuf + have, RXCAP - have, 0);
    if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
            return;
        char why[96];
        snprintf(why, sizeof why, "recv: %s", strerror(errno));
        conn_close(c, c->subscribed ? NULL : why);
        return;
    }
    if (n == 0) {
        conn_close(c, c->subscribed ? NULL : "closed by the server before subscribing");
        return;
    }
    have += (size_t)n;
    double now = wall_ms();
    size_t off = 0;
    if (c->state == S_HANDSHAKE) {
        long used = ws_handshake(c, rxbuf, have);
        if (used < 0)
            return;
        if (used == 0)
            goto keep;
        off = (size_t)used;
    }
    long used = opt.mode == M_WS ? ws_frames(c, rxbuf + off, have - off, now)
                                 : redis_replies(c, rxbuf + off, have - off, now);
    if (used < 0)
        return;
    off += (size_t)used;
keep:
    c->plen = (uint32_t)(have - off);
    if (c->plen > c->pcap) {
        c->pcap = c->plen < 4096 ? 4096 : c->plen;
        c->pend = xrealloc(c->pend, c->pcap);
    }
    if (c->plen)
        memcpy(c->pend, rxbuf + off, c->plen);
}

static void on_event(uint32_t idx, uint32_t events)
{
    struct conn *c = &conns[idx];
    if (c->state == S_CLOSED)
        return;
    if (c->state == S_CONNECTING) {
        if (!(events & (EPOLLOUT | EPOLLERR | EPOLLHUP)))
            return;
        int err = 0;
        socklen_t el = sizeof err;
        getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el);
        if (err) {
            char why[96];
            snprintf(why, sizeof why, "connect: %s", strerror(err));
            conn_close(c, why);
            return;
        }
        on_connected(c);
        return;
    }
    if (events & EPOLLOUT) {
        if (conn_flush(c) < 0)
            return;
    }
    if (events & (EPOLLIN | EPOLLERR | EPOLLHUP))
        on_readable(c);
}

/* ---- CPU of another process's threads ---- */

/* Time on CPU of pid's threads (schedstat, ns precision), all of them and
 * those whose name starts with prefix; the same from stat's utime + stime
 * (clock ticks); and how long the selected ones waited for a CPU while
 * runnable (schedstat's second number). All in ms. */
struct cpu_sample {
    double all_ms, sel_ms, all_tick_ms, sel_tick_ms, sel_wait_ms;
    int nsel;
};

static int read_small(const char *path, char *buf, size_t len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, buf, len - 1);
    close(fd);
    if (n < 0)
        return -1;
    buf[n] = '\0';
    return (int)n;
}

static struct cpu_sample cpu_of(int pid, const char *prefix)
{
    struct cpu_sample s = { 0 };
    char dir[64];
    snprintf(dir, sizeof dir, "/proc/%d/task", pid);
    DIR *d = opendir(dir);
    if (!d)
        return s;
    long tick = sysconf(_SC_CLK_TCK);
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char path[400], buf[1024];
        snprintf(path, sizeof path, "%s/%s/stat", dir, e->d_name);
        if (read_small(path, buf, sizeof buf) < 0)
            continue;
        /* pid (comm) state ...: comm may hold spaces and parentheses */
        char *lp = strchr(buf, '('), *rp = strrchr(buf, ')');
        if (!lp || !rp)
            continue;
        char comm[32];
        snprintf(comm, sizeof comm, "%.*s", (int)(rp - lp - 1), lp + 1);
        unsigned long long ut = 0, stt = 0;
        char *f = rp + 2;
        for (int field = 3; field < 14 && f; field++) { /* fields 14 and 15: utime, stime */
            f = strchr(f, ' ');
            if (f)
                f++;
        }
        if (!f || sscanf(f, "%llu %llu", &ut, &stt) != 2)
            continue;
        double tick_ms = (double)(ut + stt) * 1000.0 / (double)tick;
        double ns_ms = -1, wait_ms = 0;
        snprintf(path, sizeof path, "%s/%s/schedstat", dir, e->d_name);
        if (read_small(path, buf, sizeof buf) > 0) {
            unsigned long long ns, wait;
            int got = sscanf(buf, "%llu %llu", &ns, &wait);
            if (got >= 1)
                ns_ms = (double)ns / 1e6;
            if (got == 2)
                wait_ms = (double)wait / 1e6;
        }
        double ms = ns_ms >= 0 ? ns_ms : tick_ms;
        s.all_ms += ms;
        s.all_tick_ms += tick_ms;
        if (prefix && strncmp(comm, prefix, strlen(prefix)) == 0) {
            s.sel_ms += ms;
            s.sel_tick_ms += tick_ms;
            s.sel_wait_ms += wait_ms;
            s.nsel++;
        }
    }
    closedir(d);
    return s;
}

/* How long this process waited for a CPU while runnable, ms (0 if unknown). */
static double self_wait_ms(void)
{
    char buf[128];
    unsigned long long ns, wait;
    if (read_small("/proc/self/schedstat", buf, sizeof buf) > 0 && sscanf(buf, "%llu %llu", &ns, &wait) == 2)
        return (double)wait / 1e6;
    return 0;
}

static double rusage_ms(struct rusage *u)
{
    return u->ru_utime.tv_sec * 1e3 + u->ru_utime.tv_usec / 1e3 + u->ru_stime.tv_sec * 1e3 +
           u->ru_stime.tv_usec / 1e3;
}

/* ---- the histogram ---- */

static double percentile(double q)
{
    if (!st.frames)
        return 0;
    uint64_t want = (uint64_t)(q * (double)st.frames + 0.999999), seen = 0;
    if (want < 1)
        want = 1;
    for (int i = 0; i <= HIST_BUCKETS; i++) {
        seen += hist[i];
        if (seen >= want)
            return i == HIST_BUCKETS || (i + 1) / 10.0 > st.max_ms ? st.max_ms
                                                                   : (i + 1) / 10.0; /* the bucket's upper edge */
    }
    return st.max_ms;
}

/* ---- main ---- */

static void usage(void)
{
    fprintf(stderr,
            "usage: fanout --ws PORT --run RUN_ID --clients N [--seconds S]\n"
            "       fanout --redis PORT --channel CH --clients N [--seconds S]\n"
            "options: --fps F --batch B --grace MS --connect-timeout S --cpu-pid PID --cpu-comm PREFIX -v\n");
    exit(2);
}

int main(int argc, char **argv)
{
    int have_mode = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
#define ARG(name) (strcmp(a, name) == 0 && (v || (usage(), 0)) && ++i)
        if (ARG("--ws")) {
            opt.mode = M_WS;
            opt.port = atoi(v);
            have_mode = 1;
        } else if (ARG("--redis")) {
            opt.mode = M_REDIS;
            opt.port = atoi(v);
            have_mode = 1;
        } else if (ARG("--run")) {
            opt.run = v;
        } else if (ARG("--channel")) {
            opt.channel = v;
        } else if (ARG("--clients")) {
            opt.clients = atoi(v);
        } else if (ARG("--seconds")) {
            opt.seconds = atof(v);
        } else if (ARG("--fps")) {
            opt.fps = atof(v);
        } else if (ARG("--batch")) {
            opt.batch = atoi(v);
        } else if (ARG("--grace")) {
            opt.grace_ms = atoi(v);
        } else if (ARG("--connect-timeout")) {
            opt.connect_timeout_s = atoi(v);
        } else if (ARG("--cpu-pid")) {
            opt.cpu_pid = atoi(v);
        } else if (ARG("--cpu-comm")) {
            opt.cpu_comm = v;
        } else if (strcmp(a, "-v") == 0) {
            opt.verbose = 1;
        } else {
            usage();
        }
#undef ARG
    }
    if (!have_mode || opt.port <= 0 || opt.port > 65535 || opt.clients < 1 || opt.seconds <= 0 || opt.batch < 1 ||
        opt.fps <= 0)
        usage();
    if (opt.mode == M_WS) {
        if (!opt.run || strlen(opt.run) > 64)
            usage();
        opt.sub_len = (size_t)snprintf(opt.sub_msg, sizeof opt.sub_msg, "{\"subscribe\":\"run:%s\"}", opt.run);
    } else {
        if (!opt.channel || strlen(opt.channel) > 128)
            usage();
        opt.sub_len = (size_t)snprintf(opt.sub_msg, sizeof opt.sub_msg, "*2\r\n$9\r\nSUBSCRIBE\r\n$%zu\r\n%s\r\n",
                                       strlen(opt.channel), opt.channel);
    }
    signal(SIGPIPE, SIG_IGN);
    srand((unsigned)getpid());

    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
        getrlimit(RLIMIT_NOFILE, &rl);
        if (rl.rlim_cur < (rlim_t)opt.clients + 16)
            fprintf(stderr, "fanout: the open-file limit is %llu: not enough for %d connections\n",
                    (unsigned long long)rl.rlim_cur, opt.clients);
    }

    conns = calloc((size_t)opt.clients, sizeof *conns);
    rxbuf = malloc(RXCAP);
    if (!conns || !rxbuf)
        die("out of memory");
    epfd = epoll_create1(EPOLL_CLOEXEC);
    if (epfd < 0)
        die("epoll_create1: %s", strerror(errno));

    struct epoll_event evs[1024];
    double t_begin = mono_ms(), connect_deadline = t_begin + opt.connect_timeout_s * 1e3, next_check = t_begin;
    struct rusage ru0, ru1;
    struct cpu_sample cpu0 = { 0 }, cpu1 = { 0 };
    double end_wall = 0, stop_wall = 0, connect_ms = 0, wait0 = 0, wait1 = 0;
    int phase = 0; /* 0 connecting, 1 waiting for the window, 2 in it, 3 grace */

    for (;;) {
        double now_m = mono_ms();
        if (phase == 0) {
            while (st.next < opt.clients && st.inflight < opt.batch && now_m < connect_deadline)
                conn_start(st.next++);
            if (now_m >= next_check) { /* connections that take too long */
                next_check = now_m + 500;
                for (int i = 0; i < st.next; i++)
                    if (conns[i].state != S_CLOSED && !conns[i].subscribed &&
                        now_m - conns[i].started_ms > 10000)
                        conn_close(&conns[i], "no subscription after 10 s");
                if (opt.verbose)
                    fprintf(stderr, "fanout: %d started, %d subscribed, %d failed\n", st.next, st.subscribed,
                            st.failed);
            }
            if ((st.next == opt.clients || now_m >= connect_deadline) && st.inflight == 0) {
                if (connect_ms == 0)
                    connect_ms = now_m - t_begin;
                /* The window: S seconds from half-way between two frames,
                 * once one frame told their phase (at most 3 s more). */
                if (st.connected == 0) { /* nobody to measure */
                    win_start = win_end = stop_wall = wall_ms();
                    break;
                }
                if (phase_t >= 0 || now_m - t_begin - connect_ms > 3000) {
                    double now_w = wall_ms(), start = now_w + 300;
                    if (phase_t >= 0) {
                        double period = 1000.0 / opt.fps, base = (double)phase_t + period / 2;
                        double k = (start - base) / period;
                        start = base + period * (double)(int64_t)(k + 1);
                    }
                    win_start = start;
                    win_end = start + opt.seconds * 1e3;
                    stop_wall = win_end + opt.grace_ms;
                    phase = 1;
                }
            }
        }
        if (phase >= 1) {
            double now_w = wall_ms();
            if (phase == 1 && now_w >= win_start) {
                getrusage(RUSAGE_SELF, &ru0);
                wait0 = self_wait_ms();
                if (opt.cpu_pid)
                    cpu0 = cpu_of(opt.cpu_pid, opt.cpu_comm);
                phase = 2;
                if (opt.verbose)
                    fprintf(stderr, "fanout: window open, %d connected\n", st.connected);
            }
            if (phase == 2 && now_w >= win_end) {
                getrusage(RUSAGE_SELF, &ru1);
                wait1 = self_wait_ms();
                if (opt.cpu_pid)
                    cpu1 = cpu_of(opt.cpu_pid, opt.cpu_comm);
                end_wall = now_w;
                phase = 3;
            }
            if (phase == 3 && now_w >= stop_wall)
                break;
        }
        int timeout = 50;
        if (phase >= 1) { /* wake on time for the samples */
            double ms = (phase == 1 ? win_start : phase == 2 ? win_end : stop_wall) - wall_ms();
            timeout = ms <= 0 ? 0 : ms < 50 ? (int)ms : 50;
        }
        int n = epoll_wait(epfd, evs, 1024, timeout);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            die("epoll_wait: %s", strerror(errno));
        }
        for (int i = 0; i < n; i++)
            on_event(evs[i].data.u32, evs[i].events);
    }
    (void)end_wall;

    int complete = 0, open_now = 0;
    for (int i = 0; i < opt.clients; i++) {
        if (conns[i].state != S_CLOSED && conns[i].subscribed) {
            open_now++;
            if ((int)conns[i].frames == npub)
                complete++;
        }
    }
    struct rusage ru_all;
    getrusage(RUSAGE_SELF, &ru_all);
    double win_cpu = rusage_ms(&ru1) - rusage_ms(&ru0);
    double expected = (double)(st.connected + st.closed) * opt.fps * opt.seconds;

    if (opt.verbose) {
        fprintf(stderr, "fanout: per frame (t_ms, receivers, first ms, last ms):\n");
        for (int i = 0; i < npub; i++)
            fprintf(stderr, "  %" PRId64 " %u %.1f %.1f\n", pub[i].t_ms, pub[i].receivers, pub[i].min_ms,
                    pub[i].max_ms);
    }
    for (int i = 0; i < st.nreasons; i++)
        fprintf(stderr, "fanout: %d connection(s): %s\n", st.reasons[i].n, st.reasons[i].what);
    if (st.first_error[0])
        fprintf(stderr, "fanout: %" PRIu64 " error message(s), the first: %s\n", st.errors, st.first_error);
    if (st.closed)
        fprintf(stderr, "fanout: %d subscriber(s) closed, the first close frame: %s\n", st.closed,
                st.close_reason[0] ? st.close_reason : "(none: EOF)");
    if (pub_overflow)
        fprintf(stderr, "fanout: more than %d distinct frames: the per-frame table is partial\n", MAX_PUBLISHED);

    /* spread of a broadcast: the median over frames of (last - first receiver) */
    double spread = 0;
    if (npub) {
        double *sp = malloc(sizeof(double) * (size_t)npub);
        for (int i = 0; i < npub; i++)
            sp[i] = pub[i].max_ms - pub[i].min_ms;
        for (int i = 1; i < npub; i++) /* insertion sort: few frames */
            for (int j = i; j > 0 && sp[j - 1] > sp[j]; j--) {
                double t = sp[j];
                sp[j] = sp[j - 1];
                sp[j - 1] = t;
            }
        spread = sp[npub / 2];
        free(sp);
    }

    printf("clients=%d connected=%d frames=%" PRIu64 " expected\u2248%.0f published=%d complete=%d "
           "p50_ms=%.1f p90_ms=%.1f p99_ms=%.1f max_ms=%.1f closed=%d connect_failed=%d "
           "spread_ms=%.1f dups=%" PRIu64 " pings=%" PRIu64 " connect_s=%.1f client_cpu_ms=%.0f client_cpu_us_per_frame=%.2f "
           "client_cpu_total_ms=%.0f client_runq_wait_ms=%.0f",
           opt.clients, st.connected + st.closed, st.frames, expected, npub, complete, percentile(0.50),
           percentile(0.90), percentile(0.99), st.max_ms, st.closed, st.failed, spread, st.dups, st.pings, connect_ms / 1e3,
           win_cpu, st.frames ? win_cpu * 1e3 / (double)st.frames : 0.0, rusage_ms(&ru_all), wait1 - wait0);
    if (opt.cpu_pid) {
        double sel = cpu1.sel_ms - cpu0.sel_ms, all = cpu1.all_ms - cpu0.all_ms;
        printf(" peer_cpu_ms=%.1f peer_sel_cpu_ms=%.1f peer_sel_threads=%d peer_sel_us_per_frame=%.2f "
               "peer_cpu_us_per_frame=%.2f peer_tick_cpu_ms=%.0f peer_sel_tick_cpu_ms=%.0f peer_sel_runq_wait_ms=%.0f",
               all, sel, cpu1.nsel, st.frames ? sel * 1e3 / (double)st.frames : 0.0,
               st.frames ? all * 1e3 / (double)st.frames : 0.0, cpu1.all_tick_ms - cpu0.all_tick_ms,
               cpu1.sel_tick_ms - cpu0.sel_tick_ms, cpu1.sel_wait_ms - cpu0.sel_wait_ms);
    }
    printf("\n");
    (void)open_now;
    return 0;
}
