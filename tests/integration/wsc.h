/* wsc: a small blocking WebSocket client for the tests (RFC 6455): the
 * upgrade, masked text frames out, text frames in (fragments joined),
 * pings answered (and counted), close frames reported with their code and reason. */
#ifndef STAMPEDE_WSC_H
#define STAMPEDE_WSC_H

#include <stddef.h>
#include <stdint.h>

struct wsc {
    int fd;
    unsigned char *buf;   /* bytes read, not yet taken */
    size_t len, cap;
    int deaf;             /* set: pings are counted, not answered (a dead peer) */
    unsigned pings;       /* pings received */
};

/* Connect to 127.0.0.1:port and upgrade on path; extra is "K: V\r\n..."
 * or NULL. 0 on a 101; -1 otherwise, with the HTTP status (or -1) in
 * *status. */
int wsc_connect(struct wsc *w, uint16_t port, const char *path, const char *extra, int *status);
/* The same with the socket's receive buffer set first (a slow reader). */
int wsc_connect_rcvbuf(struct wsc *w, uint16_t port, const char *path, const char *extra, int rcvbuf,
                       int *status);
int wsc_send(struct wsc *w, const char *text);
/* The next text message (malloc'd, NUL-terminated; caller frees), or NULL
 * when none came within timeout_ms (*close_code 0) or the server closed
 * (*close_code its code, reason filled). */
char *wsc_recv(struct wsc *w, int timeout_ms, int *close_code, char *reason, size_t rlen);
void wsc_close(struct wsc *w);

#endif
