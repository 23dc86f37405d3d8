/* httpc: non-blocking HTTP/1.1 client connections for the load generator. */
#include "httpc.h"

#include "clock.h"
#include "log.h"
#include "xmalloc.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define RBUF_SIZE (64 * 1024)
_Static_assert(RBUF_SIZE >= TLSREC_PLAIN_MAX, "a whole TLS record decrypts into the read buffer");
#define SWEEP_MS 10

enum { IO_AGAIN = TLSC_AGAIN, IO_ERR = TLSC_ERR };

struct transport {
    ssize_t (*read)(struct httpc_conn *c, char *buf, size_t len);
    ssize_t (*write)(struct httpc_conn *c, const char *buf, size_t len);
};

TAILQ_HEAD(conn_list, httpc_conn);

struct httpc_loop {
    struct event_base *base;
    char *rbuf;
    struct conn_list dl;       /* in-flight requests, deadline order */
    struct event *sweep_ev;
    struct conn_list defer;    /* completions found inside httpc_send */
    struct conn_list *running; /* the batch on_defer is running, or NULL */
    struct event *defer_ev;
    struct httpc_counters cnt;
    /* tick mode: sockets live in our own epoll set, polled by
     * httpc_loop_poll, and responses carry kernel receive timestamps */
    int tick;
    int pfd;
    int64_t rt_minus_mono_us; /* CLOCK_REALTIME - CLOCK_MONOTONIC, per poll */
};

/* ---- transports: chosen once per connection ---- */

static ssize_t plain_read(struct httpc_conn *c, char *buf, size_t len)
{
    ssize_t n = read(c->fd, buf, len);
    if (n >= 0)
        return n;
    return (errno == EAGAIN || errno == EINTR) ? IO_AGAIN : IO_ERR;
}

static ssize_t plain_write(struct httpc_conn *c, const char *buf, size_t len)
{
    ssize_t n = write(c->fd, buf, len);
    if (n >= 0)
        return n;
    return (errno == EAGAIN || errno == EINTR) ? IO_AGAIN : IO_ERR;
}

static const struct transport plain = { plain_read, plain_write };

/* Tick mode: recvmsg with SO_TIMESTAMPNS, so the completion time is when
 * the kernel received the bytes, however late the tick reads them. */
static ssize_t plain_read_ts(struct httpc_conn *c, char *buf, size_t len)
{
    struct iovec iov = { buf, len };
    union {
        char b[CMSG_SPACE(sizeof(struct timespec))];
        struct cmsghdr align;
    } ctl;
    struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.b,
                         .msg_controllen = sizeof ctl.b };
    ssize_t n = recvmsg(c->fd, &mh, MSG_DONTWAIT);
    if (n < 0)
        return (errno == EAGAIN || errno == EINTR) ? IO_AGAIN : IO_ERR;
    for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
        if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_TIMESTAMPNS) {
            struct timespec ts;
            memcpy(&ts, CMSG_DATA(cm), sizeof ts);
            int64_t rt_us = (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
            c->rx_us = (uint64_t)(rt_us - c->hl->rt_minus_mono_us);
        }
    }
    return n;
}

static const struct transport plain_ts = { plain_read_ts, plain_write };

static void arm_write(struct httpc_conn *c, int on);

static ssize_t tls_read(struct httpc_conn *c, char *buf, size_t len)
{
    ssize_t r = tlsc_read(c, buf, len);
    if (r == TLSC_AGAIN_WRITE) {
        arm_write(c, 1);
        return IO_AGAIN;
    }
    return r;
}

static const struct transport tls = { tls_read, tlsc_write };

/* ---- lists ---- */

static void dl_remove(struct httpc_loop *hl, struct httpc_conn *c)
{
    if (!c->deadline_us)
        return;
    TAILQ_REMOVE(&hl->dl, c, dl_link);
    c->deadline_us = 0;
}

/* Insert from the tail: O(1) when requests share one timeout. */
static void dl_insert(struct httpc_loop *hl, struct httpc_conn *c, uint64_t deadline)
{
    c->deadline_us = deadline;
    struct httpc_conn *after = TAILQ_LAST(&hl->dl, conn_list);
    while (after && after->deadline_us > deadline)
        after = TAILQ_PREV(after, conn_list, dl_link);
    if (after)
        TAILQ_INSERT_AFTER(&hl->dl, after, c, dl_link);
    else
        TAILQ_INSERT_HEAD(&hl->dl, c, dl_link);
}

/* ---- connection plumbing ---- */

/* Interest in the socket: libevent events, or the tick-mode epoll set.
 * 0, or -1 when the kernel refused (no memory, max_user_watches): the
 * socket cannot be polled, and the caller fails the request. */
static int tick_ctl(struct httpc_conn *c, int op)
{
    struct epoll_event ev = { .events = EPOLLIN | (c->wev_on ? EPOLLOUT : 0), .data.ptr = c };
    if (epoll_ctl(c->hl->pfd, op, c->fd, &ev) == 0)
        return 0;
    c->hl->cnt.poll_errors++;
    return -1;
}

static void arm_write(struct httpc_conn *c, int on)
{
    if (!!on == !!c->wev_on)
        return;
    c->wev_on = on;
    if (c->hl->tick && tick_ctl(c, EPOLL_CTL_MOD) < 0)
        c->wev_on = !on; /* unchanged: the next step on it fails or times out */
    else if (on)
        event_add(&c->wev, NULL);
    else
        event_del(&c->wev);
}

static void watch_read(struct httpc_conn *c)
{
    if (!c->hl->tick)
        event_add(&c->rev, NULL);
}

static void close_socket(struct httpc_conn *c)
{
    if (c->fd < 0)
        return;
    if (!c->hl->tick) {
        event_del(&c->rev);
        arm_write(c, 0);
    }
    c->wev_on = 0; /* close() takes the socket out of the tick set */
    tlsc_close(c); /* no close_notify goes out: responses are framed by HTTP */
    close(c->fd);
    c->fd = -1;
    c->st = HC_CLOSED;
    c->reused = 0;
}

static void defer_error(struct httpc_conn *c, int err);

/* Report the end of the current request to the owner; from inside
 * httpc_send the report is deferred to the loop. */
static void finish(struct httpc_conn *c, int err, uint64_t now)
{
    if (c->in_send && err >= 0) {
        defer_error(c, err);
        return;
    }
    dl_remove(c->hl, c);
    if (err >= 0) {
        close_socket(c);
        c->hl->cnt.timeouts += err == STATS_ERR_TIMEOUT;
    }
    c->req = NULL;
    c->done(c, err, now, c->arg);
}

/* Errors found inside httpc_send are reported from the loop instead. */
static void defer_error(struct httpc_conn *c, int err)
{
    struct httpc_loop *hl = c->hl;
    close_socket(c);
    dl_remove(hl, c);
    c->pending_err = err;
    if (c->deferred)
        return;
    c->deferred = 1;
    TAILQ_INSERT_TAIL(&hl->defer, c, defer_link);
    /* A zero timeout, not event_active: a VU whose next request fails at
     * once again (an unresolved host) must not keep the loop in its active
     * queue; the loop polls and runs its timers between rounds. */
    if (!evtimer_pending(hl->defer_ev, NULL)) {
        static const struct timeval now = { 0, 0 };
        evtimer_add(hl->defer_ev, &now);
    }
}

static void on_defer(evutil_socket_t fd, short what, void *arg)
{
    struct httpc_loop *hl = arg;
    (void)fd;
    (void)what;
    /* This batch only: a callback that fails at once again is deferred
     * to the next round. A connection closed by a callback meanwhile
     * leaves the batch (httpc_conn_close) and is not reported. */
    struct conn_list batch = TAILQ_HEAD_INITIALIZER(batch);
    TAILQ_CONCAT(&batch, &hl->defer, defer_link);
    struct httpc_conn *c;
    TAILQ_FOREACH(c, &batch, defer_link)
        c->deferred = 2;
    hl->running = &batch;
    uint64_t now = clock_now_us();
    while ((c = TAILQ_FIRST(&batch))) {
        TAILQ_REMOVE(&batch, c, defer_link);
        c->deferred = 0;
        c->req = NULL;
        c->done(c, c->pending_err, now, c->arg);
    }
    hl->running = NULL;
}

static void on_read(evutil_socket_t fd, short what, void *arg);
static void on_write(evutil_socket_t fd, short what, void *arg);
static void on_body(void *arg, const char *data, size_t n);
static void on_header(void *arg, const char *name, size_t nlen, const char *value, size_t vlen);
static void start_connect(struct httpc_conn *c);

static void write_more(struct httpc_conn *c)
{
    while (c->req_off < c->req_len) {
        ssize_t n = c->tp->write(c, c->req + c->req_off, c->req_len - c->req_off);
        if (n > 0) {
            c->req_off += (size_t)n;
            c->bytes_out += (uint64_t)n;
            continue;
        }
        if (n == IO_AGAIN) {
            arm_write(c, 1);
            return;
        }
        /* the server went away before taking the request */
        int reset = errno == ECONNRESET || errno == EPIPE;
        if (c->reused && !c->got_bytes && !c->retried && !c->no_retry && reset) {
            c->retried = 1;
            c->hl->cnt.retries++;
            close_socket(c);
            start_connect(c);
            return;
        }
        finish(c, reset ? STATS_ERR_RESET : STATS_ERR_CLOSED, clock_now_us());
        return;
    }
    c->st = HC_WAITING;
    arm_write(c, 0);
}

static void begin_request(struct httpc_conn *c)
{
    c->req_off = 0;
    c->got_bytes = 0;
    c->bytes_in = 0;
    http_parser_deinit(&c->parser);
    http_parser_init(&c->parser, c->parse_flags);
    if (c->needle || c->keep_body) {
        c->parser.on_body = on_body;
        c->parser.cb_arg = c;
    }
    if (c->keep_headers) {
        c->parser.on_header = on_header;
        c->parser.cb_arg = c;
    }
    c->carry_len = 0;
    c->body_found = 0;
    c->st = HC_SENDING;
    write_more(c);
}

static void handshake(struct httpc_conn *c)
{
    switch (tlsc_handshake(c)) {
    case TLSC_DONE:
        arm_write(c, 0);
        begin_request(c);
        return;
    case TLSC_WANT_READ:
        arm_write(c, 0);
        return;
    case TLSC_WANT_WRITE:
        arm_write(c, 1);
        return;
    case TLSC_FAILED:
        finish(c, STATS_ERR_TLS, clock_now_us());
        return;
    }
}

static void connected(struct httpc_conn *c)
{
    c->hl->cnt.connects++;
    c->connects++;
    watch_read(c);
    if (!c->origin->tls) {
        c->tp = c->hl->tick ? &plain_ts : &plain;
        arm_write(c, 0);
        begin_request(c);
        return;
    }
    c->tp = &tls;
    if (tlsc_start(c) < 0) {
        finish(c, STATS_ERR_TLS, clock_now_us());
        return;
    }
    c->st = HC_HANDSHAKE;
    handshake(c);
}

static void start_connect(struct httpc_conn *c)
{
    const struct httpc_origin *o = c->origin;
    if (!o->addrlen) {
        defer_error(c, STATS_ERR_DNS);
        return;
    }
    int fd = socket(o->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        defer_error(c, STATS_ERR_CONNECT); /* out of descriptors counts as a connect failure */
        return;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    c->fd = fd;
    c->wev_on = 0;
    if (c->hl->tick) {
        int on = 1;
        setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof on);
        if (tick_ctl(c, EPOLL_CTL_ADD) < 0) {
            defer_error(c, STATS_ERR_CONNECT); /* it could never be read */
            return;
        }
    } else {
        event_assign(&c->rev, c->hl->base, fd, EV_READ | EV_PERSIST, on_read, c);
        event_assign(&c->wev, c->hl->base, fd, EV_WRITE | EV_PERSIST, on_write, c);
    }
    if (connect(fd, (const struct sockaddr *)&o->addr, o->addrlen) == 0) {
        connected(c); /* may finish with an error: only from the loop's callbacks */
        return;
    }
    if (errno != EINPROGRESS) {
        defer_error(c, STATS_ERR_CONNECT);
        return;
    }
    c->st = HC_CONNECTING;
    arm_write(c, 1);
}

static void on_write(evutil_socket_t fd, short what, void *arg)
{
    struct httpc_conn *c = arg;
    (void)what;
    switch (c->st) {
    case HC_CONNECTING: {
        int err = 0;
        socklen_t len = sizeof err;
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
            err = errno;
        if (err) {
            finish(c, STATS_ERR_CONNECT, clock_now_us());
            return;
        }
        connected(c);
        return;
    }
    case HC_HANDSHAKE:
        handshake(c);
        return;
    case HC_SENDING:
        write_more(c);
        return;
    default:
        arm_write(c, 0);
        return;
    }
}

/* The response's headers, when the owner keeps them (extraction). */
static void on_header(void *arg, const char *name, size_t nlen, const char *value, size_t vlen)
{
    struct httpc_conn *c = arg;
    sbuf_add(c->keep_headers, name, nlen);
    sbuf_add(c->keep_headers, ": ", 2);
    sbuf_add(c->keep_headers, value, vlen);
    sbuf_addc(c->keep_headers, '\n');
}

/* Body bytes, when the owner keeps them (extraction) or the step checks
 * for a substring. */
static void on_body(void *arg, const char *data, size_t n)
{
    struct httpc_conn *c = arg;
    if (c->keep_body && c->keep_body->len < c->keep_body_max) {
        size_t room = c->keep_body_max - c->keep_body->len;
        sbuf_add(c->keep_body, data, n < room ? n : room);
    }
    if (!c->needle || c->body_found || n == 0)
        return;
    size_t nl = c->needle_len;
    if (c->carry_len) {
        /* a match across the previous read and this one */
        size_t take = n < nl - 1 ? n : nl - 1;
        char tmp[2048];
        char *joined = c->carry_len + take <= sizeof tmp ? tmp : xmalloc(c->carry_len + take);
        memcpy(joined, c->carry, c->carry_len);
        memcpy(joined + c->carry_len, data, take);
        c->body_found = memmem(joined, c->carry_len + take, c->needle, nl) != NULL;
        if (joined != tmp)
            free(joined);
        if (c->body_found)
            return;
    }
    if (memmem(data, n, c->needle, nl)) {
        c->body_found = 1;
        return;
    }
    if (nl < 2)
        return;
    /* keep the last nl-1 bytes seen */
    if (!c->carry)
        c->carry = xmalloc(nl - 1);
    if (n >= nl - 1) {
        memcpy(c->carry, data + n - (nl - 1), nl - 1);
        c->carry_len = nl - 1;
    } else {
        size_t keep = c->carry_len + n > nl - 1 ? nl - 1 - n : c->carry_len;
        memmove(c->carry, c->carry + c->carry_len - keep, keep);
        memcpy(c->carry + keep, data, n);
        c->carry_len = keep + n;
    }
}

static void complete(struct httpc_conn *c, uint64_t now, int extra)
{
    c->reused = 1;
    if (!c->parser.keep_alive || extra)
        close_socket(c);
    else
        c->st = HC_IDLE;
    dl_remove(c->hl, c);
    c->req = NULL;
    c->done(c, -1, now, c->arg);
}

/* The server closed or reset the connection. */
static void lost(struct httpc_conn *c, int reset)
{
    if (c->st != HC_WAITING && c->st != HC_SENDING) {
        close_socket(c); /* an idle keep-alive connection closed by the server */
        return;
    }
    if (c->reused && !c->got_bytes && !c->retried && !c->no_retry) {
        /* it never saw this request: send it again on a new connection */
        c->retried = 1;
        c->hl->cnt.retries++;
        close_socket(c);
        start_connect(c);
        return;
    }
    if (!reset && http_parser_eof(&c->parser) == HTTP_PARSE_DONE) {
        close_socket(c);
        complete(c, clock_now_us(), 0);
        return;
    }
    finish(c, reset ? STATS_ERR_RESET : STATS_ERR_CLOSED, clock_now_us());
}

static void on_read(evutil_socket_t fd, short what, void *arg)
{
    struct httpc_conn *c = arg;
    struct httpc_loop *hl = c->hl;
    (void)fd;
    (void)what;
    if (c->st == HC_HANDSHAKE) {
        handshake(c);
        return;
    }
    for (;;) {
        ssize_t n = c->tp->read(c, hl->rbuf, RBUF_SIZE);
        if (n > 0) {
            if (c->st != HC_WAITING && c->st != HC_SENDING) {
                close_socket(c); /* bytes nobody asked for */
                return;
            }
            c->got_bytes = 1;
            c->bytes_in += (uint64_t)n;
            size_t used = 0;
            int r = http_parser_feed(&c->parser, hl->rbuf, (size_t)n, &used);
            if (r == HTTP_PARSE_DONE) {
                uint64_t at = c->rx_us ? c->rx_us : clock_now_us();
                c->rx_us = 0;
                complete(c, at, used != (size_t)n);
                return;
            }
            if (r == HTTP_PARSE_ERROR) {
                finish(c, STATS_ERR_BAD_RESPONSE, clock_now_us());
                return;
            }
            /* more to come: TLS may hold bytes epoll cannot see (read
             * ahead, or decrypted and not yet returned) */
            if (c->tls && tlsc_pending(c))
                continue;
            if ((size_t)n == RBUF_SIZE)
                continue;
            return;
        }
        if (n == 0) {
            lost(c, 0);
            return;
        }
        if (n == IO_AGAIN)
            return;
        lost(c, errno == ECONNRESET || errno == EPIPE || errno == ECONNABORTED);
        return;
    }
}

static void on_sweep(evutil_socket_t fd, short what, void *arg)
{
    struct httpc_loop *hl = arg;
    (void)fd;
    (void)what;
    if (TAILQ_EMPTY(&hl->dl))
        return;
    uint64_t now = clock_now_us();
    struct httpc_conn *c;
    while ((c = TAILQ_FIRST(&hl->dl)) && c->deadline_us <= now)
        finish(c, STATS_ERR_TIMEOUT, now);
}

/* ---- public ---- */

struct httpc_loop *httpc_loop_new(struct event_base *base, int tick)
{
    struct httpc_loop *hl = xcalloc(1, sizeof *hl);
    TAILQ_INIT(&hl->dl);
    TAILQ_INIT(&hl->defer);
    hl->base = base;
    hl->pfd = -1;
    if (tick) {
        hl->pfd = epoll_create1(EPOLL_CLOEXEC);
        hl->tick = hl->pfd >= 0; /* without it, plain events it is */
    }
    hl->rbuf = xmalloc(RBUF_SIZE);
    hl->sweep_ev = event_new(base, -1, EV_PERSIST, on_sweep, hl);
    hl->defer_ev = event_new(base, -1, 0, on_defer, hl);
    if (!hl->sweep_ev || !hl->defer_ev)
        abort();
    struct timeval tv = { 0, SWEEP_MS * 1000 };
    event_add(hl->sweep_ev, &tv);
    return hl;
}

void httpc_loop_free(struct httpc_loop *hl)
{
    if (!hl)
        return;
    event_free(hl->sweep_ev);
    event_free(hl->defer_ev);
    if (hl->pfd >= 0)
        close(hl->pfd);
    free(hl->rbuf);
    free(hl);
}

int httpc_loop_ticking(const struct httpc_loop *hl)
{
    return hl->tick;
}

void httpc_loop_poll(struct httpc_loop *hl)
{
    if (!hl->tick)
        return;
    struct timespec rt, mono;
    clock_gettime(CLOCK_REALTIME, &rt);
    clock_gettime(CLOCK_MONOTONIC, &mono);
    hl->rt_minus_mono_us = ((int64_t)rt.tv_sec - (int64_t)mono.tv_sec) * 1000000 +
                           (rt.tv_nsec - mono.tv_nsec) / 1000;
    struct epoll_event evs[256];
    int n;
    do {
        n = epoll_wait(hl->pfd, evs, 256, 0);
        for (int i = 0; i < n; i++) {
            struct httpc_conn *c = evs[i].data.ptr;
            uint32_t e = evs[i].events;
            /* a callback may close this connection: check its state again */
            if ((e & EPOLLOUT) && c->fd >= 0 && c->wev_on)
                on_write(c->fd, EV_WRITE, c);
            if ((e & (EPOLLIN | EPOLLERR | EPOLLHUP)) && c->fd >= 0 && c->st != HC_CONNECTING)
                on_read(c->fd, EV_READ, c);
        }
    } while (n == 256);
}

struct httpc_counters httpc_loop_counters(const struct httpc_loop *hl)
{
    return hl->cnt;
}

void httpc_conn_init(struct httpc_conn *c, struct httpc_loop *hl, struct httpc_origin *o,
                     httpc_done_cb done, void *arg)
{
    memset(c, 0, sizeof *c);
    c->hl = hl;
    c->origin = o;
    c->done = done;
    c->arg = arg;
    c->fd = -1;
    c->st = HC_CLOSED;
    c->pending_err = -1;
    http_parser_init(&c->parser, 0);
}

int httpc_conn_busy(const struct httpc_conn *c)
{
    return c->req != NULL || c->deferred;
}

int httpc_send(struct httpc_conn *c, const char *req, size_t len, uint64_t now_us,
               uint64_t timeout_us, const char *needle, size_t needle_len, unsigned flags)
{
    if (httpc_conn_busy(c))
        return -1;
    c->req = req;
    c->req_len = len;
    c->sent_us = now_us;
    c->bytes_out = 0;
    c->retried = 0;
    c->no_retry = (flags & HTTPC_NO_RETRY) != 0;
    c->parse_flags = flags & ~HTTPC_NO_RETRY;
    c->needle = needle_len ? needle : NULL;
    c->needle_len = needle_len;
    dl_insert(c->hl, c, now_us + timeout_us);
    c->in_send = 1; /* failures found now are reported from the loop */
    if (c->st == HC_IDLE)
        begin_request(c);
    else
        start_connect(c);
    c->in_send = 0;
    return 0;
}

void httpc_conn_close(struct httpc_conn *c)
{
    struct httpc_loop *hl = c->hl;
    dl_remove(hl, c);
    if (c->deferred) {
        TAILQ_REMOVE(c->deferred == 2 ? hl->running : &hl->defer, c, defer_link);
        c->deferred = 0;
    }
    close_socket(c);
    tlsc_forget(c);
    http_parser_deinit(&c->parser);
    free(c->carry);
    c->carry = NULL;
    c->req = NULL;
}
