/* httpc: the load generator's HTTP/1.1 client connection, built for the
 * hot path of one loop.
 *
 * - No bufferevents: a request is written with one write(2) straight from
 *   the caller (often from inside the previous response's callback); write
 *   interest is armed only when the socket says EAGAIN. Responses are read
 *   into one buffer per loop and parsed in place.
 * - Keep-alive; the connection is opened on first use and again after the
 *   server closes it. A request sent on a reused connection that gets
 *   nothing back but a close or reset is sent again once on a new
 *   connection (the server never saw it), so counts stay exact.
 * - TLS through GnuTLS (httpc_tls.c) behind a transport table chosen once
 *   per connection, so plain HTTP never asks "is this TLS?". Read-ahead of
 *   our own (one read per response); TLS 1.3 records after the handshake
 *   are done in place (tlsrec.c); each connection resumes with the last
 *   session it was given, else the origin's latest.
 * - Timeouts: each request has a deadline; one 10 ms sweep per loop fails
 *   the expired ones (STATS_ERR_TIMEOUT). Lists are kept in deadline order.
 *
 * Callback contract: httpc_send never calls the done callback itself; every
 * completion (success or error) is reported from the loop, exactly once per
 * send. Inside the callback the owner may send again on the same
 * connection. Not thread-safe: one loop owns a httpc_loop and its
 * connections. */
#ifndef STAMPEDE_HTTPC_H
#define STAMPEDE_HTTPC_H

#include "http_parse.h"
#include "httpc_tls.h"
#include "tlsrec.h"
#include "sbuf.h"
#include "stats.h"

#include <event2/event.h>
#include <event2/event_struct.h> /* struct event is embedded: no allocation per connection */
#include <gnutls/gnutls.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>
#include <sys/socket.h>

struct httpc_conn;
struct httpc_loop;

/* err is -1 on a complete response (see c->parser for status etc.), else
 * an enum stats_err (STATS_ERR_DNS ... STATS_ERR_BAD_RESPONSE). now_us: monotonic time
 * the completion was observed. */
typedef void (*httpc_done_cb)(struct httpc_conn *c, int err, uint64_t now_us, void *arg);

/* Where connections of one origin go. Filled by the owner; read-only while
 * connections use it. */
struct httpc_origin {
    struct sockaddr_storage addr;
    socklen_t addrlen;           /* 0 = not resolved: sends fail with STATS_ERR_DNS */
    int tls;
    struct httpc_tls *tls_cfg;   /* tls: owned by the caller (httpc_tls_new) */
    const char *sni;             /* tls: server name and name to verify */
    gnutls_datum_t session;      /* the last session any connection was given, offered by
                                    connections that have none of their own (httpc
                                    updates it; the owner frees it with httpc_origin_release) */
};

/* tick != 0: tick mode. Sockets are kept out of libevent in an epoll set
 * of their own that only httpc_loop_poll looks at (the owner calls it on
 * its own periodic timer), and plain-HTTP completions are timed by the
 * kernel's receive timestamp — so a loop with many small responses wakes
 * once per tick instead of once per response, without any latency cost. */
struct httpc_loop *httpc_loop_new(struct event_base *base, int tick);
int httpc_loop_ticking(const struct httpc_loop *hl);
/* Tick mode: handle every socket event pending now. */
void httpc_loop_poll(struct httpc_loop *hl);
/* Every connection must be closed first. NULL is a no-op. */
void httpc_loop_free(struct httpc_loop *hl);

enum httpc_state {
    HC_CLOSED,
    HC_CONNECTING,
    HC_HANDSHAKE,
    HC_IDLE,      /* connected, no request */
    HC_SENDING,   /* request partly written */
    HC_WAITING,   /* request written, response not complete */
};

struct httpc_conn {
    /* public, read-only for the owner */
    struct http_parser parser;  /* status, keep_alive, body_bytes after a response */
    uint64_t sent_us;           /* when the current request was first written */
    uint64_t bytes_in;          /* of the current response */
    uint64_t bytes_out;         /* of the current request (retries included) */
    int body_found;             /* the needle was seen in the body */
    /* Set by the owner before httpc_send (NULL: not kept): the response's
     * decoded body, up to keep_body_max bytes, and its headers as
     * "name: value\n" lines are appended to these. */
    struct sbuf *keep_body;
    size_t keep_body_max;
    struct sbuf *keep_headers;
    uint32_t connects;          /* connections opened so far */
    int retried;                /* the current request was sent again once, on a fresh
                                   connection, after a stale keep-alive one failed */

    /* private */
    struct httpc_loop *hl;
    struct httpc_origin *origin; /* its session slot is updated */
    httpc_done_cb done;
    void *arg;
    int fd;
    enum httpc_state st;
    const struct transport *tp;
    gnutls_session_t tls; /* TLS: the session, NULL when none */
    struct tlsrec *rec;   /* TLS 1.3: its records done by tlsrec, NULL when by GnuTLS */
    struct tlsrec_ra ra;  /* TLS: bytes read from the socket, not yet decrypted */
    uint32_t ra_lim;      /* TLS: GnuTLS may read ra up to here only, 0 = no limit */
    int tls_errno;        /* TLS: the socket error behind a GnuTLS pull/push error */
    struct event rev, wev;
    int wev_on;
    const char *req;
    size_t req_len, req_off;
    unsigned parse_flags;
    int reused;           /* the connection served a response before */
    int no_retry;         /* HTTPC_NO_RETRY: never send the current request twice */
    int got_bytes;        /* anything received for the current request */
    int pending_err;      /* deferred completion: error kind, or -1 */
    uint64_t deadline_us;
    uint64_t timeout_us;
    TAILQ_ENTRY(httpc_conn) dl_link;        /* deadline list */
    TAILQ_ENTRY(httpc_conn) defer_link;     /* deferred-completion list */
    int deferred;         /* 1 queued, 2 in the batch on_defer is running */
    int in_send;          /* inside httpc_send: completions are deferred */
    uint64_t rx_us;       /* tick mode: kernel receive time of the last read */
    const char *needle;   /* body_contains check, NULL = none */
    size_t needle_len;
    char *carry;          /* last needle_len-1 body bytes, across reads */
    size_t carry_len;
    gnutls_datum_t session; /* TLS: the last session this connection was given,
                               offered on its next connection; freed by close */
};

/* Prepare a connection (no socket yet). */
void httpc_conn_init(struct httpc_conn *c, struct httpc_loop *hl, struct httpc_origin *o,
                     httpc_done_cb done, void *arg);
/* Send one request (bytes borrowed until the callback). timeout_us bounds
 * connect + send + response. needle: body substring to look for, or NULL.
 * flags: HTTP_PARSE_HEAD for HEAD requests, HTTPC_NO_RETRY for a request
 * that must not be sent again after a stale keep-alive connection failed
 * (non-idempotent methods). Returns 0; the callback will
 * run. now_us is the send time (service time counts from it). Only when
 * the connection is not busy (-1 otherwise, no callback). */
#define HTTPC_NO_RETRY 0x100u /* not an HTTP_PARSE_* flag */
int httpc_send(struct httpc_conn *c, const char *req, size_t len, uint64_t now_us, uint64_t timeout_us,
               const char *needle, size_t needle_len, unsigned flags);
/* Close now and drop the connection's TLS session; a request in progress
 * is dropped without a callback. Calling it again is a no-op. */
void httpc_conn_close(struct httpc_conn *c);
int httpc_conn_busy(const struct httpc_conn *c);

/* Counters of the loop (for tests and diagnostics). */
struct httpc_counters {
    uint64_t connects, retries, timeouts;
    uint64_t poll_errors;   /* epoll_ctl refused (tick mode): counted as connect errors */
};
struct httpc_counters httpc_loop_counters(const struct httpc_loop *hl);

#endif
