/* hfetch: one HTTP/1.1 request and its response on a connection of its
 * own, for the control plane (dataset collection), not the load path
 * (that is httpc). It connects to the address it is given — it never
 * looks a name up, so what was checked is what is reached — asks the
 * caller about the connected peer (getpeername) before a byte is sent,
 * then speaks TLS if asked, sends the request and reads the response with
 * http_parse, bounded in time and in body size. Bufferevents: a few
 * requests, not a load.
 *
 * Callback contract: `done` runs exactly once per hfetch_start, always
 * from the loop (never inside hfetch_start); the hfetch frees itself
 * after `done` returns, so the caller forgets its handle there. Before
 * that, hfetch_cancel drops it without a callback. Loop-bound: use it on
 * the loop whose base it was given. */
#ifndef STAMPEDE_HFETCH_H
#define STAMPEDE_HFETCH_H

#include <openssl/ssl.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct event_base;
struct hfetch;

enum hfetch_err {
    HFETCH_OK = 0,     /* a complete response */
    HFETCH_ECONNECT,   /* the connection failed */
    HFETCH_EPEER,      /* the peer check refused the connected address */
    HFETCH_ETLS,       /* the TLS handshake failed (certificate, protocol) */
    HFETCH_ETIMEOUT,   /* no complete response in time */
    HFETCH_ECLOSED,    /* the server closed or reset before the end */
    HFETCH_EBAD,       /* not a valid HTTP/1.x response */
    HFETCH_ETOOBIG,    /* the body is larger than max_body */
};

struct hfetch_result {
    int err;                  /* enum hfetch_err */
    char message[256];        /* what went wrong ("" when err is HFETCH_OK) */
    int status;               /* HFETCH_OK: the status code */
    const char *body;         /* decoded body, NUL-terminated (borrowed, valid in `done`) */
    size_t body_len;
    const char *headers;      /* "name: value\n" lines (borrowed, valid in `done`) */
    size_t headers_len;
    uint64_t elapsed_us;      /* from hfetch_start */
};

/* 0 lets the request go on; -1 refuses the connection, with the reason in
 * why. peer is what getpeername returned. */
typedef int (*hfetch_peer_cb)(const struct sockaddr *peer, void *arg, char *why, size_t whylen);
typedef void (*hfetch_done_cb)(const struct hfetch_result *r, void *arg);

struct hfetch_req {
    const struct sockaddr *addr;  /* where to connect (copied) */
    socklen_t addrlen;
    SSL_CTX *ssl_ctx;             /* NULL: plain HTTP; else TLS (borrowed: outlive the fetch) */
    const char *sni;              /* TLS: the name to send and to verify (copied) */
    const char *bytes;            /* the whole request (copied) */
    size_t len;
    int head;                     /* a HEAD request: the response has no body */
    uint64_t timeout_us;          /* connect + send + whole response */
    size_t max_body;              /* larger decoded bodies fail with HFETCH_ETOOBIG */
    hfetch_peer_cb check_peer;    /* NULL: no check */
    hfetch_done_cb done;
    void *arg;
};

/* Start; never NULL (a failure to even start is reported through done). */
struct hfetch *hfetch_start(struct event_base *base, const struct hfetch_req *rq);
/* Drop a fetch whose done has not run yet: no callback. NULL is a no-op. */
void hfetch_cancel(struct hfetch *f);
/* A client TLS context for fetches: verify against the system's CAs or
 * not. Caller frees with SSL_CTX_free. NULL with err set on failure. */
SSL_CTX *hfetch_tls_ctx_new(int verify, char *err, size_t errlen);

#endif
