/* wsc: WebSocket client for tests. */
#include "wsc.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int fill(struct wsc *w, int timeout_ms)
{
    struct pollfd p = { w->fd, POLLIN, 0 };
    int r = poll(&p, 1, timeout_ms < 0 ? 0 : timeout_ms);
    if (r <= 0)
        return 0;
    if (w->len + 65536 > w->cap) {
        w->cap = w->cap ? w->cap * 2 : 131072;
        w->buf = realloc(w->buf, w->cap);
    }
    ssize_t n = read(w->fd, w->buf + w->len, w->cap - w->len);
    if (n <= 0)
        return -1;
    w->len += (size_t)n;
    return 1;
}

static void take(struct wsc *w, size_t n)
{
    memmove(w->buf, w->buf + n, w->len - n);
    w->len -= n;
}

static int send_all(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n) {
        ssize_t k = send(fd, c, n, MSG_NOSIGNAL);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return -1;
        c += k;
        n -= (size_t)k;
    }
    return 0;
}

int wsc_connect(struct wsc *w, uint16_t port, const char *path, const char *extra, int *status)
{
    return wsc_connect_rcvbuf(w, port, path, extra, 0, status);
}

int wsc_connect_rcvbuf(struct wsc *w, uint16_t port, const char *path, const char *extra, int rcvbuf,
                       int *status)
{
    memset(w, 0, sizeof *w);
    *status = -1;
    w->fd = socket(AF_INET, SOCK_STREAM, 0);
    if (w->fd < 0)
        return -1;
    if (rcvbuf > 0)
        setsockopt(w->fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int one = 1;
    setsockopt(w->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(w->fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
        wsc_close(w);
        return -1;
    }
    char req[1024];
    int n = snprintf(req, sizeof req,
                     "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%u\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n%s\r\n",
                     path, port, extra ? extra : "");
    if (send_all(w->fd, req, (size_t)n) < 0) {
        wsc_close(w);
        return -1;
    }
    uint64_t until = now_ms() + 5000;
    char *end = NULL;
    while (!end && now_ms() < until) {
        int r = fill(w, (int)(until - now_ms()));
        if (r < 0)
            break;
        if (w->len) {
            w->buf[w->len < w->cap ? w->len : w->cap - 1] = 0;
            end = strstr((char *)w->buf, "\r\n\r\n");
        }
    }
    if (!end || sscanf((char *)w->buf, "HTTP/1.1 %d", status) != 1 || *status != 101) {
        if (end)
            sscanf((char *)w->buf, "HTTP/1.1 %d", status);
        wsc_close(w);
        return -1;
    }
    take(w, (size_t)(end + 4 - (char *)w->buf));
    return 0;
}

static int send_frame(struct wsc *w, int opcode, const char *data, size_t n)
{
    unsigned char h[14];
    size_t hl = 0;
    h[hl++] = (unsigned char)(0x80 | opcode);
    if (n < 126) {
        h[hl++] = (unsigned char)(0x80 | n);
    } else if (n < 65536) {
        h[hl++] = 0x80 | 126;
        h[hl++] = (unsigned char)(n >> 8);
        h[hl++] = (unsigned char)n;
    } else {
        h[hl++] = 0x80 | 127;
        for (int i = 7; i >= 0; i--)
            h[hl++] = (unsigned char)((uint64_t)n >> (8 * i));
    }
    unsigned char mask[4] = { 0x12, 0x34, 0x56, 0x78 };
    memcpy(h + hl, mask, 4);
    hl += 4;
    unsigned char *body = malloc(n + 1);
    for (size_t i = 0; i < n; i++)
        body[i] = (unsigned char)data[i] ^ mask[i % 4];
    int rc = send_all(w->fd, h, hl) == 0 && send_all(w->fd, body, n) == 0 ? 0 : -1;
    free(body);
    return rc;
}

int wsc_send(struct wsc *w, const char *text)
{
    return send_frame(w, 1, text, strlen(text));
}

/* One frame parsed from the buffer: 1, or 0 when incomplete. */
static int parse(struct wsc *w, int *fin, int *op, size_t *off, size_t *plen)
{
    if (w->len < 2)
        return 0;
    *fin = w->buf[0] >> 7;
    *op = w->buf[0] & 15;
    size_t n = w->buf[1] & 127, o = 2;
    if (n == 126) {
        if (w->len < 4)
            return 0;
        n = (size_t)w->buf[2] << 8 | w->buf[3];
        o = 4;
    } else if (n == 127) {
        if (w->len < 10)
            return 0;
        n = 0;
        for (int i = 0; i < 8; i++)
            n = n << 8 | w->buf[2 + i];
        o = 10;
    }
    if (w->len < o + n)
        return 0;
    *off = o;
    *plen = n;
    return 1;
}

char *wsc_recv(struct wsc *w, int timeout_ms, int *close_code, char *reason, size_t rlen)
{
    *close_code = 0;
    if (reason && rlen)
        reason[0] = 0;
    uint64_t until = now_ms() + (uint64_t)timeout_ms;
    char *msg = NULL;
    size_t mlen = 0;
    for (;;) {
        int fin, op;
        size_t off, n;
        while (parse(w, &fin, &op, &off, &n)) {
            unsigned char *p = w->buf + off;
            if (op == 9) { /* ping: answer */
                w->pings++;
                if (!w->deaf)
                    send_frame(w, 10, (const char *)p, n);
            } else if (op == 8) {
                *close_code = n >= 2 ? (p[0] << 8 | p[1]) : 1005;
                if (reason && rlen)
                    snprintf(reason, rlen, "%.*s", (int)(n > 2 ? n - 2 : 0), (const char *)p + 2);
                take(w, off + n);
                free(msg);
                return NULL;
            } else if (op == 1 || op == 0) {
                msg = realloc(msg, mlen + n + 1);
                memcpy(msg + mlen, p, n);
                mlen += n;
                msg[mlen] = 0;
                if (fin) {
                    take(w, off + n);
                    return msg;
                }
            }
            take(w, off + n);
        }
        uint64_t now = now_ms();
        if (now >= until)
            break;
        int r = fill(w, (int)(until - now));
        if (r < 0) {
            *close_code = 1006;
            break;
        }
    }
    free(msg);
    return NULL;
}

void wsc_close(struct wsc *w)
{
    if (w->fd >= 0)
        close(w->fd);
    w->fd = -1;
    free(w->buf);
    w->buf = NULL;
    w->len = w->cap = 0;
}
