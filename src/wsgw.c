/* wsgw: libwebsockets service threads with shared, reference-counted
 * frames and latest-wins client queues. See wsgw.h. */
#include "wsgw.h"

#include "clock.h"
#include "json.h"
#include "log.h"
#include "uuid.h"
#include "xmalloc.h"

#include <ev.h>
#include <libwebsockets.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <unistd.h>

#define MAX_SUBS 32
#define RX_MAX 2048
#define LATEST_TTL_US (120u * 1000000u)
#define REPLACE_AFTER_US 250000u
#define PATH "/v1/live"
#define SNDBUF_BYTES (64 * 1024) /* kernel buffering per client: slow ones hit our queue soon */
#define SWEEP_US 1000000u         /* the keepalive sweep's period */
#define CLOSE_GRACE_S 5           /* a closing client that cannot take its close frame is cut */

_Static_assert(LWS_PRE >= 10, "a frame's headroom holds its longest WebSocket header");

struct frame {
    int refs;               /* the owning thread's only */
    struct frame *next;     /* inbox link */
    char run[40];           /* "" = an event or a reply */
    char key[96];           /* what a newer frame replaces */
    int final;
    uint64_t at_us;
    size_t len;             /* of the payload */
    size_t hlen;            /* of the WebSocket header just before it */
    unsigned char data[];   /* LWS_PRE bytes of headroom, then the payload */
};

/* The bytes of f on the wire: a server's text frame (FIN, unmasked), the
 * same for every client, so it is framed once. */
static const unsigned char *frame_wire(const struct frame *f, size_t *len)
{
    *len = f->hlen + f->len;
    return f->data + LWS_PRE - f->hlen;
}

struct latest {
    struct frame *f;        /* a reference */
};

struct client {
    LIST_ENTRY(client) link;
    struct lws *wsi;
    int fd;
    struct gw_thread *t;
    int authed, closing, events, nsubs;
    char close_reason[96];
    char subs[MAX_SUBS][40];
    struct frame *q[WSGW_QUEUE_MAX];
    int qhead, qlen;
    char rx[RX_MAX];
    size_t rxlen;
    int rx_overflow;
    uint64_t last_rx_us;    /* when the client last said something (a pong counts) */
    uint64_t ping_us;       /* when we pinged it, 0 = no ping outstanding */
};

#define FDQ_MAX 1024

struct gw_thread {
    struct wsgw *g;
    int index;
    pthread_t tid;
    int started;
    struct lws_context *ctx;
    struct ev_loop *loop;   /* lws's event loop (epoll), ours to stop */
    pthread_mutex_t mu;
    struct frame *in_head, *in_tail; /* guarded by mu */
    int fds[FDQ_MAX];                /* accepted sockets to adopt, guarded by mu */
    int nfds;
    _Atomic int stop;
    LIST_HEAD(, client) clients;
    int nclients;
    lws_sorted_usec_list_t sweep;    /* the keepalive sweep's timer */
    struct latest *latest;
    int nlatest, cap_latest;
    _Atomic uint64_t n_clients, n_accepted, n_in, n_writes, n_replaced, n_slow, n_refused;
};

struct wsgw {
    int nthreads;
    int lfd;                /* the listening socket; accepted on the caller's loop */
    int next;               /* round robin over the threads */
    uint16_t port;
    uint64_t ping_us;       /* silence before a ping; as long again for the pong */
    char token[256];
    struct gw_thread t[WSGW_MAX_THREADS];
};

/* lws's own keepalive off (hangup 0): it keeps a timer per connection in
 * one sorted list, so every ping and pong costs a walk of that list —
 * about 3 s of CPU per round at 10,000 clients. The sweep below pings. */
static const lws_retry_bo_t no_idle_policy = {
    .secs_since_valid_ping = 0,
    .secs_since_valid_hangup = 0,
};

/* ---- frames ---- */

static struct frame *frame_new(const char *run, const char *key, const char *payload, size_t len, int final)
{
    struct frame *f = xmalloc(sizeof *f + LWS_PRE + len + 1);
    memset(f, 0, sizeof *f);
    f->refs = 1;
    snprintf(f->run, sizeof f->run, "%s", run ? run : "");
    snprintf(f->key, sizeof f->key, "%s", key ? key : "");
    f->final = final;
    f->at_us = clock_now_us();
    f->len = len;
    memcpy(f->data + LWS_PRE, payload, len);
    f->data[LWS_PRE + len] = '\0';
    unsigned char h[10];
    h[0] = 0x81; /* FIN, text */
    if (len < 126) {
        h[1] = (unsigned char)len;
        f->hlen = 2;
    } else if (len <= 0xffff) {
        h[1] = 126;
        h[2] = (unsigned char)(len >> 8);
        h[3] = (unsigned char)len;
        f->hlen = 4;
    } else {
        h[1] = 127;
        for (int i = 0; i < 8; i++)
            h[2 + i] = (unsigned char)((uint64_t)len >> (56 - 8 * i));
        f->hlen = 10;
    }
    memcpy(f->data + LWS_PRE - f->hlen, h, f->hlen);
    return f;
}

static void frame_unref(struct frame *f)
{
    if (f && --f->refs == 0)
        free(f);
}

/* ---- client queues ---- */

static void wake(struct client *c)
{
    lws_callback_on_writable(c->wsi);
}

static void drop_queue(struct client *c);

/* Close c once what is queued is written (drop: throw the queue away
 * first, for a client that cannot keep up anyway). */
static void close_client(struct client *c, const char *why, int drop)
{
    if (c->closing)
        return;
    c->closing = 1;
    snprintf(c->close_reason, sizeof c->close_reason, "%s", why);
    if (drop)
        drop_queue(c);
    wake(c);
    /* a peer that reads nothing never makes room for the close frame */
    lws_set_timeout(c->wsi, PENDING_TIMEOUT_CLOSE_SEND, CLOSE_GRACE_S);
}

/* Queue f for c (a new reference). A run frame replaces an unsent one of
 * the same key; a full queue closes the client. */
static void enqueue(struct client *c, struct frame *f)
{
    if (c->closing)
        return;
    if (f->run[0]) {
        /* Only a frame that has waited (the client is behind) is replaced:
         * two frames that come together (a run's last second follows its
         * last full one at once) both reach a client that keeps up. */
        for (int i = 0; i < c->qlen; i++) {
            struct frame **slot = &c->q[(c->qhead + i) % WSGW_QUEUE_MAX];
            if ((*slot)->run[0] && strcmp((*slot)->key, f->key) == 0 &&
                f->at_us - (*slot)->at_us > REPLACE_AFTER_US) {
                frame_unref(*slot);
                f->refs++;
                *slot = f;
                atomic_fetch_add(&c->t->n_replaced, 1);
                return;
            }
        }
    }
    if (c->qlen == WSGW_QUEUE_MAX) {
        atomic_fetch_add(&c->t->n_slow, 1);
        close_client(c, "too slow: the client fell behind the live frames", 1);
        return;
    }
    f->refs++;
    c->q[(c->qhead + c->qlen++) % WSGW_QUEUE_MAX] = f;
    if (c->qlen == 1)
        wake(c);
}

/* Hand f to c: straight to the socket when nothing is ahead of it (c's
 * queue is empty and lws holds none of c's bytes), so a subscriber that
 * keeps up costs one send(2) and no poll round. What the socket does not
 * take stays with lws, which writes it before anything else of c's (a
 * pong, the next frame); a full socket queues f as a slow client's would. */
static int send_now(struct client *c, const unsigned char *w, size_t wl)
{
    if (c->qlen || c->closing || lws_partial_buffered(c->wsi))
        return -1;
    ssize_t n = send(c->fd, w, wl, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n < 0)
        return -1; /* EAGAIN: wait for room; anything else: lws finds the
                    * dead connection when it writes, and closes it */
    if ((size_t)n < wl && lws_write(c->wsi, (unsigned char *)w + n, wl - (size_t)n, LWS_WRITE_RAW) < 0)
        close_client(c, "write failed", 1);
    return 0;
}

static void deliver(struct client *c, struct frame *f)
{
    size_t wl;
    const unsigned char *w = frame_wire(f, &wl);
    if (send_now(c, w, wl) < 0)
        enqueue(c, f);
    else
        atomic_fetch_add(&c->t->n_writes, 1);
}

/* ---- keepalive ---- */

/* Once a second: ping the clients silent for ping_us (at most an eighth of
 * them a tick, so a crowd that connected together is pinged over several
 * ticks, not in one burst beside a frame), and close those that left a
 * ping unanswered for as long again. One timer per thread, one walk. */
static void sweep(lws_sorted_usec_list_t *sul)
{
    /* FIN, ping, 8 bytes: lws drops a pong with no payload unseen */
    static const unsigned char ping[10] = { 0x89, 8, 's', 't', 'a', 'm', 'p', 'e', 'd', 'e' };
    struct gw_thread *t = lws_container_of(sul, struct gw_thread, sweep);
    uint64_t now = clock_now_us(), idle = t->g->ping_us;
    int budget = t->nclients / 8 + 16;
    struct client *c;
    LIST_FOREACH(c, &t->clients, link) {
        if (c->closing)
            continue;
        if (c->ping_us) {
            if (now - c->ping_us >= idle)
                close_client(c, "no pong: the connection looks dead", 1);
        } else if (budget > 0 && now - c->last_rx_us >= idle && send_now(c, ping, sizeof ping) == 0) {
            c->ping_us = now;
            budget--;
        }
    }
    lws_sul_schedule(t->ctx, 0, &t->sweep, sweep, SWEEP_US);
}

static void reply(struct client *c, const char *type, const char *k, const char *v)
{
    yajl_gen g = json_gen_new();
    yajl_gen_map_open(g);
    json_gen_kv_str(g, "type", type);
    if (k)
        json_gen_kv_str(g, k, v);
    yajl_gen_map_close(g);
    size_t len;
    char *s = json_gen_finish(g, &len);
    struct frame *f = frame_new(NULL, NULL, s, len, 0);
    free(s);
    enqueue(c, f);
    frame_unref(f);
}

static void drop_queue(struct client *c)
{
    while (c->qlen) {
        frame_unref(c->q[c->qhead]);
        c->qhead = (c->qhead + 1) % WSGW_QUEUE_MAX;
        c->qlen--;
    }
}

static int subscribed(const struct client *c, const char *run)
{
    for (int i = 0; i < c->nsubs; i++)
        if (strcmp(c->subs[i], run) == 0)
            return 1;
    return 0;
}

/* ---- what clients say ---- */

static int token_ok(const struct wsgw *g, const char *t)
{
    size_t n = strlen(t), want = strlen(g->token);
    unsigned char diff = (unsigned char)(n != want);
    for (size_t i = 0; i < want; i++)
        diff |= (unsigned char)(g->token[i] ^ (i < n ? t[i] : 0));
    return diff == 0;
}

static void subscribe_run(struct client *c, const char *run)
{
    if (!subscribed(c, run)) {
        if (c->nsubs == MAX_SUBS) {
            reply(c, "error", "message", "too many subscriptions (at most 32 runs)");
            return;
        }
        snprintf(c->subs[c->nsubs++], sizeof c->subs[0], "%s", run);
    }
    char ch[48];
    snprintf(ch, sizeof ch, "run:%s", run);
    reply(c, "subscribed", "channel", ch);
    /* the latest frame of each script of the run, at once */
    struct gw_thread *t = c->t;
    for (int i = 0; i < t->nlatest; i++)
        if (strcmp(t->latest[i].f->run, run) == 0)
            enqueue(c, t->latest[i].f);
}

static void unsubscribe_run(struct client *c, const char *run)
{
    for (int i = 0; i < c->nsubs; i++) {
        if (strcmp(c->subs[i], run) == 0) {
            memmove(c->subs[i], c->subs[i + 1], (size_t)(c->nsubs - i - 1) * sizeof c->subs[0]);
            c->nsubs--;
            break;
        }
    }
    char ch[48];
    snprintf(ch, sizeof ch, "run:%s", run);
    reply(c, "unsubscribed", "channel", ch);
}

static void handle_message(struct client *c, const char *text, size_t len)
{
    struct json_err e;
    yajl_val v = json_parse(text, len, 4, &e);
    if (!v || !YAJL_IS_OBJECT(v) || v->u.object.len != 1 || !YAJL_IS_STRING(v->u.object.values[0])) {
        reply(c, "error", "message",
              "expected one of {\"subscribe\":\"run:<id>\"}, {\"unsubscribe\":\"run:<id>\"}, "
              "{\"subscribe\":\"runs\"}, {\"unsubscribe\":\"runs\"}, {\"token\":\"...\"}");
        if (v)
            yajl_tree_free(v);
        return;
    }
    const char *verb = v->u.object.keys[0], *arg = YAJL_GET_STRING(v->u.object.values[0]);
    if (strcmp(verb, "token") == 0) {
        if (!c->t->g->token[0] || c->authed) {
            reply(c, "authenticated", NULL, NULL);
        } else if (token_ok(c->t->g, arg)) {
            c->authed = 1;
            reply(c, "authenticated", NULL, NULL);
        } else {
            reply(c, "error", "message", "wrong token");
            close_client(c, "wrong token", 0);
            atomic_fetch_add(&c->t->n_refused, 1);
        }
    } else if (!c->authed) {
        reply(c, "error", "message", "send {\"token\":\"...\"} first (or Authorization: Bearer on the upgrade)");
    } else if (strcmp(verb, "subscribe") && strcmp(verb, "unsubscribe")) {
        reply(c, "error", "message", "unknown message: expected subscribe, unsubscribe or token");
    } else if (strcmp(arg, "runs") == 0) {
        c->events = verb[0] == 's';
        reply(c, c->events ? "subscribed" : "unsubscribed", "channel", "runs");
    } else if (strncmp(arg, "run:", 4) == 0 && uuid_valid(arg + 4)) {
        if (verb[0] == 's')
            subscribe_run(c, arg + 4);
        else
            unsubscribe_run(c, arg + 4);
    } else if (strncmp(arg, "run:", 4) == 0 && arg[4] && strlen(arg + 4) < 40 && strspn(arg + 4, "0123456789") == strlen(arg + 4)) {
        /* runs of `stampede run` are numbered */
        if (verb[0] == 's')
            subscribe_run(c, arg + 4);
        else
            unsubscribe_run(c, arg + 4);
    } else {
        reply(c, "error", "message", "unknown channel: expected \"run:<run id>\" or \"runs\"");
    }
    yajl_tree_free(v);
}

/* ---- frames arriving from the server ---- */

static void remember_latest(struct gw_thread *t, struct frame *f)
{
    uint64_t now = clock_now_us();
    for (int i = 0; i < t->nlatest; i++) {
        if (strcmp(t->latest[i].f->key, f->key) == 0) {
            frame_unref(t->latest[i].f);
            f->refs++;
            t->latest[i].f = f;
            return;
        }
    }
    /* forget runs that went quiet */
    for (int i = 0; i < t->nlatest;) {
        if (now - t->latest[i].f->at_us > LATEST_TTL_US) {
            frame_unref(t->latest[i].f);
            t->latest[i] = t->latest[--t->nlatest];
        } else {
            i++;
        }
    }
    if (t->nlatest == t->cap_latest) {
        t->cap_latest = t->cap_latest ? 2 * t->cap_latest : 16;
        t->latest = xrealloc(t->latest, (size_t)t->cap_latest * sizeof *t->latest);
    }
    f->refs++;
    t->latest[t->nlatest++].f = f;
}

static void drain_inbox(struct gw_thread *t)
{
    int fds[FDQ_MAX];
    pthread_mutex_lock(&t->mu);
    struct frame *f = t->in_head;
    t->in_head = t->in_tail = NULL;
    int nfds = t->nfds;
    memcpy(fds, t->fds, (size_t)nfds * sizeof fds[0]);
    t->nfds = 0;
    pthread_mutex_unlock(&t->mu);
    for (int i = 0; i < nfds; i++)
        if (!lws_adopt_socket(t->ctx, fds[i])) /* it closed the socket */
            log_warn("live", "a connection could not be adopted");
    while (f) {
        struct frame *next = f->next;
        if (f->run[0])
            remember_latest(t, f);
        struct client *c;
        LIST_FOREACH(c, &t->clients, link) {
            if (!c->authed)
                continue;
            if (f->run[0] ? subscribed(c, f->run) : c->events)
                deliver(c, f);
        }
        frame_unref(f);
        f = next;
    }
}

/* ---- lws ---- */

static int header_bearer_ok(struct lws *wsi, const struct wsgw *g, int *present)
{
    char auth[320];
    int n = lws_hdr_copy(wsi, auth, sizeof auth, WSI_TOKEN_HTTP_AUTHORIZATION);
    *present = n > 0;
    if (n <= 0)
        return 0;
    if (strncasecmp(auth, "Bearer ", 7) != 0)
        return 0;
    const char *tok = auth + 7;
    while (*tok == ' ')
        tok++;
    return token_ok(g, tok);
}

static int on_lws(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
    struct lws_context *ctx = lws_get_context(wsi);
    struct gw_thread *t = ctx ? lws_context_user(ctx) : NULL;
    struct client *c = user;
    switch (reason) {
    case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
        if (t)
            drain_inbox(t);
        if (t && t->loop && atomic_load(&t->stop))
            ev_break(t->loop, EVBREAK_ALL);
        return 0;
    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION: {
        char uri[128];
        int n = lws_hdr_copy(wsi, uri, sizeof uri, WSI_TOKEN_GET_URI);
        if (n <= 0 || strcmp(uri, PATH) != 0) {
            atomic_fetch_add(&t->n_refused, 1);
            return 1; /* not ours: refuse the upgrade */
        }
        int present = 0;
        if (t->g->token[0] && !header_bearer_ok(wsi, t->g, &present) && present) {
            atomic_fetch_add(&t->n_refused, 1);
            return 1; /* a wrong token is refused at the handshake */
        }
        return 0;
    }
    case LWS_CALLBACK_ESTABLISHED: {
        memset(c, 0, sizeof *c);
        c->wsi = wsi;
        c->fd = lws_get_socket_fd(wsi);
        c->t = t;
        int present = 0;
        c->authed = !t->g->token[0] || header_bearer_ok(wsi, t->g, &present);
        int sndbuf = SNDBUF_BYTES;
        setsockopt(c->fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
        c->last_rx_us = clock_now_us();
        LIST_INSERT_HEAD(&t->clients, c, link);
        t->nclients++;
        atomic_fetch_add(&t->n_clients, 1);
        atomic_fetch_add(&t->n_accepted, 1);
        return 0;
    }
    case LWS_CALLBACK_CLOSED:
        if (c && c->wsi) {
            LIST_REMOVE(c, link);
            t->nclients--;
            drop_queue(c);
            c->wsi = NULL;
            atomic_fetch_sub(&t->n_clients, 1);
        }
        return 0;
    case LWS_CALLBACK_RECEIVE_PONG:
        if (c && c->wsi) {
            c->last_rx_us = clock_now_us();
            c->ping_us = 0;
        }
        return 0;
    case LWS_CALLBACK_RECEIVE:
        if (!c || !c->wsi)
            return 0;
        c->last_rx_us = clock_now_us();
        c->ping_us = 0;
        if (c->rxlen + len > RX_MAX) {
            c->rx_overflow = 1;
        } else {
            memcpy(c->rx + c->rxlen, in, len);
            c->rxlen += len;
        }
        if (lws_is_final_fragment(wsi) && !lws_remaining_packet_payload(wsi)) {
            if (c->rx_overflow)
                reply(c, "error", "message", "message too long (at most 2048 bytes)");
            else
                handle_message(c, c->rx, c->rxlen);
            c->rxlen = 0;
            c->rx_overflow = 0;
        }
        return 0;
    case LWS_CALLBACK_SERVER_WRITEABLE: {
        if (!c || !c->wsi)
            return 0;
        if (c->closing && c->qlen == 0) {
            lws_close_reason(wsi, LWS_CLOSE_STATUS_POLICY_VIOLATION, (unsigned char *)c->close_reason,
                             strlen(c->close_reason));
            return -1;
        }
        if (c->qlen == 0)
            return 0;
        struct frame *f = c->q[c->qhead];
        c->qhead = (c->qhead + 1) % WSGW_QUEUE_MAX;
        c->qlen--;
        size_t wl;
        const unsigned char *w = frame_wire(f, &wl);
        int n = lws_write(wsi, (unsigned char *)w, wl, LWS_WRITE_RAW); /* framed already */
        frame_unref(f);
        if (n < 0)
            return -1;
        atomic_fetch_add(&t->n_writes, 1);
        if (c->qlen || c->closing)
            lws_callback_on_writable(wsi);
        return 0;
    }
    default:
        return lws_callback_http_dummy(wsi, reason, user, in, len);
    }
}

static const struct lws_protocols protocols[] = {
    /* rx 2048: what clients say is short; tx: a frame in one send(2), not
     * cut at the rx size (lws's default) */
    { "stampede-live", on_lws, sizeof(struct client), 2048, 0, NULL, 1 << 20 },
    { NULL, NULL, 0, 0, 0, NULL, 0 },
};

static void lws_to_log(int level, const char *line)
{
    char buf[512];
    snprintf(buf, sizeof buf, "%s", line);
    size_t n = strlen(buf);
    while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
        buf[--n] = '\0';
    if (level & LLL_ERR)
        log_error("lws", "%s", buf);
    else
        log_warn("lws", "%s", buf);
}

static void route_logs(void)
{
    lws_set_log_level(LLL_ERR | LLL_WARN, lws_to_log);
}

static void *thread_main(void *arg)
{
    struct gw_thread *t = arg;
    char name[16];
    snprintf(name, sizeof name, "stampede-ws%d", t->index);
    pthread_setname_np(pthread_self(), name);
    lws_sul_schedule(t->ctx, 0, &t->sweep, sweep, SWEEP_US);
    while (!atomic_load(&t->stop))
        if (lws_service(t->ctx, 0) < 0)
            break;
    return NULL;
}

/* The listening socket, ours: lws's own (4.1 as Debian builds it) binds
 * "127.0.0.1" as [::] and cannot share a port across contexts. */
static int listen_on(const char *host, uint16_t port, uint16_t *bound, char *err, size_t errlen)
{
    struct sockaddr_storage ss;
    socklen_t sl;
    memset(&ss, 0, sizeof ss);
    struct sockaddr_in *a4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, host, &a4->sin_addr) == 1) {
        a4->sin_family = AF_INET;
        a4->sin_port = htons(port);
        sl = sizeof *a4;
    } else if (inet_pton(AF_INET6, host, &a6->sin6_addr) == 1) {
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons(port);
        sl = sizeof *a6;
    } else {
        snprintf(err, errlen, "live gateway: '%s' is not a numeric address", host);
        return -1;
    }
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
        bind(fd, (struct sockaddr *)&ss, sl) < 0 || listen(fd, 4096) < 0) {
        snprintf(err, errlen, "live gateway: cannot listen on %s:%u: %s", host, port, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    sl = sizeof ss;
    getsockname(fd, (struct sockaddr *)&ss, &sl);
    *bound = ntohs(ss.ss_family == AF_INET6 ? a6->sin6_port : a4->sin_port);
    return fd;
}

/* t's lws context, on an epoll loop of libev's (lws's evlib plugin): then
 * waking a thread costs the same with 10 or 10,000 clients, where poll(2)
 * walks every socket each time (12 % of the gateway's CPU at 10,000).
 * Without the plugin (package libwebsockets-evlib-ev), lws's own poll. */
static struct lws_context *create_context(struct gw_thread *t)
{
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    info.port = CONTEXT_PORT_NO_LISTEN_SERVER; /* connections come from wsgw_accept */
    info.protocols = protocols;
    info.options = LWS_SERVER_OPTION_VALIDATE_UTF8;
    info.retry_and_idle_policy = &no_idle_policy;
    info.user = t;
    info.gid = (gid_t)-1;
    info.uid = (uid_t)-1;
    t->loop = ev_loop_new(EVBACKEND_EPOLL);
    if (t->loop) {
        void *loops[1] = { t->loop };
        info.options |= LWS_SERVER_OPTION_LIBEV;
        info.foreign_loops = loops;
        struct lws_context *ctx = lws_create_context(&info);
        if (ctx)
            return ctx;
        ev_loop_destroy(t->loop);
        t->loop = NULL;
        log_warn("live", "libwebsockets cannot use libev (is libwebsockets-evlib-ev installed?): "
                         "using poll(2), which costs more with many clients");
        info.options &= ~(uint64_t)LWS_SERVER_OPTION_LIBEV;
        info.foreign_loops = NULL;
    }
    return lws_create_context(&info);
}

struct wsgw *wsgw_new(const struct wsgw_config *cfg, char *err, size_t errlen)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, route_logs);
    struct wsgw *g = xcalloc(1, sizeof *g);
    g->lfd = -1;
    g->nthreads = cfg->threads < 1 ? 1 : cfg->threads > WSGW_MAX_THREADS ? WSGW_MAX_THREADS : cfg->threads;
    snprintf(g->token, sizeof g->token, "%s", cfg->token ? cfg->token : "");
    g->ping_us = cfg->ping_us ? cfg->ping_us : WSGW_PING_US;
    g->lfd = listen_on(cfg->host, cfg->port, &g->port, err, errlen);
    if (g->lfd < 0) {
        wsgw_free(g);
        return NULL;
    }
    for (int i = 0; i < g->nthreads; i++) {
        struct gw_thread *t = &g->t[i];
        t->g = g;
        t->index = i;
        pthread_mutex_init(&t->mu, NULL);
        LIST_INIT(&t->clients);
        t->ctx = create_context(t);
        if (!t->ctx) {
            snprintf(err, errlen, "live gateway: cannot create its service context");
            wsgw_free(g);
            return NULL;
        }
    }
    return g;
}

int wsgw_listen_fd(const struct wsgw *g)
{
    return g->lfd;
}

int wsgw_accept(struct wsgw *g)
{
    int n = 0;
    while (n < 256) {
        int fd = accept4(g->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0)
            break; /* EAGAIN, or an error the next wake-up will see again */
        struct gw_thread *t = &g->t[g->next++ % g->nthreads];
        pthread_mutex_lock(&t->mu);
        int ok = t->nfds < FDQ_MAX;
        if (ok)
            t->fds[t->nfds++] = fd;
        pthread_mutex_unlock(&t->mu);
        if (!ok) {
            close(fd); /* the thread is far behind: shed the connection */
            continue;
        }
        lws_cancel_service(t->ctx);
        n++;
    }
    return n;
}

uint16_t wsgw_port(const struct wsgw *g)
{
    return g->port;
}

int wsgw_start(struct wsgw *g)
{
    for (int i = 0; i < g->nthreads; i++) {
        if (pthread_create(&g->t[i].tid, NULL, thread_main, &g->t[i]) != 0)
            return -1;
        g->t[i].started = 1;
    }
    return 0;
}

void wsgw_publish(struct wsgw *g, const char *run, const char *key, const char *payload, size_t len, int final)
{
    for (int i = 0; i < g->nthreads; i++) {
        struct gw_thread *t = &g->t[i];
        struct frame *f = frame_new(run, key, payload, len, final);
        pthread_mutex_lock(&t->mu);
        if (t->in_tail)
            t->in_tail->next = f;
        else
            t->in_head = f;
        t->in_tail = f;
        pthread_mutex_unlock(&t->mu);
        atomic_fetch_add(&t->n_in, 1);
        lws_cancel_service(t->ctx);
    }
}

struct wsgw_stats wsgw_stats(const struct wsgw *g)
{
    struct wsgw_stats s;
    memset(&s, 0, sizeof s);
    for (int i = 0; i < g->nthreads; i++) {
        const struct gw_thread *t = &g->t[i];
        s.clients += atomic_load(&t->n_clients);
        s.accepted += atomic_load(&t->n_accepted);
        s.frames_in += i == 0 ? atomic_load(&t->n_in) : 0;
        s.writes += atomic_load(&t->n_writes);
        s.replaced += atomic_load(&t->n_replaced);
        s.closed_slow += atomic_load(&t->n_slow);
        s.refused += atomic_load(&t->n_refused);
    }
    return s;
}

void wsgw_stop(struct wsgw *g)
{
    for (int i = 0; i < g->nthreads; i++) {
        atomic_store(&g->t[i].stop, 1);
        if (g->t[i].ctx)
            lws_cancel_service(g->t[i].ctx);
    }
}

void wsgw_free(struct wsgw *g)
{
    if (!g)
        return;
    wsgw_stop(g);
    for (int i = 0; i < g->nthreads; i++) {
        struct gw_thread *t = &g->t[i];
        if (t->started)
            pthread_join(t->tid, NULL);
        if (t->ctx)
            lws_context_destroy(t->ctx); /* closes the clients: their queues are dropped */
        if (t->loop)
            ev_loop_destroy(t->loop);
        struct frame *f = t->in_head;
        while (f) {
            struct frame *next = f->next;
            frame_unref(f);
            f = next;
        }
        for (int k = 0; k < t->nlatest; k++)
            frame_unref(t->latest[k].f);
        free(t->latest);
        for (int k = 0; k < t->nfds; k++)
            close(t->fds[k]);
        if (t->g)
            pthread_mutex_destroy(&t->mu);
    }
    if (g->lfd >= 0)
        close(g->lfd);
    free(g);
}
