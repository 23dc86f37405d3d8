/* wsgw: the WebSocket gateway's service threads (libwebsockets).
 *
 * The Debian libwebsockets has no libevent event library and no external
 * poll, so the gateway runs lws's own service loop on threads of its own:
 * `threads` contexts, each serving its clients alone. The listening
 * socket is the gateway's: the caller accepts on its own loop
 * (wsgw_accept when wsgw_listen_fd is readable) and each connection is
 * handed to the next thread, which adopts it (lws_adopt_socket). The rest of
 * the server hands it messages with wsgw_publish from any one thread; each
 * service thread gets its own copy of a message (one per thread, never
 * one per subscriber), queued for every subscriber by reference, and is
 * woken with lws_cancel_service (the only thread-safe lws call).
 *
 * Protocol (docs/live.md), at path /v1/live: the client sends
 * {"subscribe":"run:<id>"}, {"unsubscribe":"run:<id>"}, {"subscribe":"runs"},
 * {"unsubscribe":"runs"}, {"token":"..."}; it gets {"type":"subscribed",...}
 * and {"type":"error","message":...} answers, the latest frame of each
 * script of a run at once when it subscribes, then every frame; with
 * "runs", every run event. Malformed or unknown messages get an error
 * frame and the connection stays open.
 *
 * Slow clients: each has a bounded queue (WSGW_QUEUE_MAX). A newer frame of
 * a run's script replaces an unsent older one of the same script that has
 * waited more than 250 ms (the client is behind), so a slow client gets
 * the latest numbers, never a backlog; events are never
 * replaced. A client whose queue is full is closed with 1008 and a reason.
 * Idle connections are pinged (every 20 s) and dropped when silent.
 *
 * Auth: with a token, the upgrade must carry "Authorization: Bearer <it>"
 * (a wrong one is refused at the handshake), or the first message must be
 * {"token": "<it>"}; until then nothing else is served. Compared in
 * constant time. */
#ifndef STAMPEDE_WSGW_H
#define STAMPEDE_WSGW_H

#include <stddef.h>
#include <stdint.h>

#define WSGW_QUEUE_MAX 64
#define WSGW_MAX_THREADS 16

struct wsgw;

struct wsgw_config {
    const char *host;     /* numeric address to listen on */
    uint16_t port;        /* 0 = ephemeral */
    int threads;          /* service threads (>= 1) */
    const char *token;    /* NULL or "" = no auth */
    uint64_t ping_us;     /* a client silent this long is pinged, and closed
                           * when it does not answer within as long again;
                           * 0 = WSGW_PING_US */
};

#define WSGW_PING_US (20u * 1000000u)

struct wsgw_stats {
    uint64_t clients;           /* connected now */
    uint64_t accepted;          /* connections ever */
    uint64_t frames_in;         /* messages handed in (per thread, counted once) */
    uint64_t writes;            /* messages written to clients */
    uint64_t replaced;          /* unsent frames replaced by newer ones */
    uint64_t closed_slow;       /* clients closed for falling behind */
    uint64_t refused;           /* upgrades refused (path, token) */
};

/* Create the contexts (listening now, so a busy port fails early). NULL
 * with a message in err. Threads do not run yet. */
struct wsgw *wsgw_new(const struct wsgw_config *cfg, char *err, size_t errlen);
uint16_t wsgw_port(const struct wsgw *g);
/* The listening socket (non-blocking): when readable, call wsgw_accept. */
int wsgw_listen_fd(const struct wsgw *g);
/* Accept what is waiting (at most 256) and hand it to the threads. The
 * number accepted. Callable from one thread (the accepting loop). */
int wsgw_accept(struct wsgw *g);
/* Start the service threads; 0 or -1. */
int wsgw_start(struct wsgw *g);

/* Hand a message to every service thread. key names what a newer message
 * replaces in a slow client's queue: "<run id>/<script id>" for frames;
 * run is the run id subscribers follow; NULL run = an event (for the
 * "runs" subscription, never replaced). final: the key's last frame.
 * payload is copied. Callable from one thread at a time (the gateway
 * actor's loop). */
void wsgw_publish(struct wsgw *g, const char *run, const char *key, const char *payload, size_t len,
                  int final);

/* Counters summed over the threads (read from any thread; approximate). */
struct wsgw_stats wsgw_stats(const struct wsgw *g);

/* Ask the threads to finish (any thread). */
void wsgw_stop(struct wsgw *g);
/* Join the threads and free everything; after wsgw_stop. NULL is a no-op. */
void wsgw_free(struct wsgw *g);

#endif
