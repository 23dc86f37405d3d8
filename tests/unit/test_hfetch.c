/* test_hfetch: the control-plane HTTP client against an in-process server
 * on 127.0.0.1 — the peer check runs on the connected socket before any
 * byte is sent (a refusal sends nothing), a response with its headers and
 * body, and each failure: refused connection, time limit, body limit,
 * malformed response; done runs once, from the loop. */
#include "check_main.h"
#include "hfetch.h"

#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <netinet/in.h>
#include <string.h>

/* The server: answers every request with `reply` (or nothing when NULL)
 * and counts the bytes it received. */
struct server {
    struct evconnlistener *lis;
    const char *reply;
    size_t received;
    int accepted;
    struct sockaddr_in addr;
};

static void srv_read(struct bufferevent *bev, void *arg)
{
    struct server *s = arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    s->received += evbuffer_get_length(in);
    int whole = evbuffer_search(in, "\r\n\r\n", 4, NULL).pos >= 0;
    evbuffer_drain(in, evbuffer_get_length(in));
    if (whole && s->reply)
        bufferevent_write(bev, s->reply, strlen(s->reply));
}

static void srv_event(struct bufferevent *bev, short what, void *arg)
{
    (void)what;
    (void)arg;
    bufferevent_free(bev);
}

static void srv_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int len, void *arg)
{
    struct server *s = arg;
    (void)sa;
    (void)len;
    s->accepted++;
    struct bufferevent *bev = bufferevent_socket_new(evconnlistener_get_base(l), fd, BEV_OPT_CLOSE_ON_FREE);
    bufferevent_setcb(bev, srv_read, NULL, srv_event, s);
    bufferevent_enable(bev, EV_READ);
}

static void server_start(struct event_base *base, struct server *s, const char *reply)
{
    memset(s, 0, sizeof *s);
    s->reply = reply;
    struct sockaddr_in a = { .sin_family = AF_INET };
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    s->lis = evconnlistener_new_bind(base, srv_accept, s, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE, 16,
                                     (struct sockaddr *)&a, sizeof a);
    ck_assert_ptr_nonnull(s->lis);
    socklen_t al = sizeof s->addr;
    getsockname(evconnlistener_get_fd(s->lis), (struct sockaddr *)&s->addr, &al);
}

struct outcome {
    int calls;
    int err, status;
    char message[256], body[256], headers[512];
    int peer_checked;
    uint16_t peer_port;
    struct event_base *base;
    int refuse;
};

static int on_peer(const struct sockaddr *peer, void *arg, char *why, size_t whylen)
{
    struct outcome *o = arg;
    o->peer_checked++;
    o->peer_port = ntohs(((const struct sockaddr_in *)peer)->sin_port);
    if (o->refuse) {
        snprintf(why, whylen, "not this one");
        return -1;
    }
    return 0;
}

static void on_done(const struct hfetch_result *r, void *arg)
{
    struct outcome *o = arg;
    o->calls++;
    o->err = r->err;
    o->status = r->status;
    snprintf(o->message, sizeof o->message, "%s", r->message);
    snprintf(o->body, sizeof o->body, "%s", r->body);
    snprintf(o->headers, sizeof o->headers, "%s", r->headers);
    /* let the server see what is in flight, then stop */
    struct timeval tv = { 0, 50000 };
    event_base_loopexit(o->base, &tv);
}

static void fetch(struct event_base *base, const struct sockaddr_in *to, struct outcome *o, uint64_t timeout_us,
                  size_t max_body)
{
    static const char req[] = "GET /x HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";
    o->base = base;
    struct hfetch_req rq = {
        .addr = (const struct sockaddr *)to, .addrlen = sizeof *to, .bytes = req, .len = sizeof req - 1,
        .timeout_us = timeout_us, .max_body = max_body, .check_peer = on_peer, .done = on_done, .arg = o,
    };
    hfetch_start(base, &rq);
    ck_assert_int_eq(o->calls, 0); /* never from inside the start */
    event_base_dispatch(base);
    ck_assert_int_eq(o->calls, 1);
}

START_TEST(peer_refused_before_any_byte)
{
    struct event_base *base = event_base_new();
    struct server s;
    server_start(base, &s, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
    struct outcome o = { .refuse = 1 };
    fetch(base, &s.addr, &o, 2000000, 1024);
    ck_assert_int_eq(o.err, HFETCH_EPEER);
    ck_assert_str_eq(o.message, "not this one");
    ck_assert_int_eq(o.peer_checked, 1);
    ck_assert_int_eq(o.peer_port, ntohs(s.addr.sin_port));
    ck_assert_int_eq(s.accepted, 1);
    ck_assert_uint_eq(s.received, 0);
    evconnlistener_free(s.lis);
    event_base_free(base);
}
END_TEST

START_TEST(a_response)
{
    struct event_base *base = event_base_new();
    struct server s;
    server_start(base, &s, "HTTP/1.1 201 Created\r\nX-A: 1\r\nTransfer-Encoding: chunked\r\n\r\n"
                           "3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n");
    struct outcome o = { 0 };
    fetch(base, &s.addr, &o, 2000000, 1024);
    ck_assert_msg(o.err == HFETCH_OK, "%s", o.message);
    ck_assert_int_eq(o.status, 201);
    ck_assert_str_eq(o.body, "abcde");
    ck_assert_ptr_nonnull(strstr(o.headers, "X-A: 1\n"));
    ck_assert_int_eq(o.peer_checked, 1);
    ck_assert_uint_gt(s.received, 0);
    evconnlistener_free(s.lis);
    event_base_free(base);
}
END_TEST

START_TEST(failures)
{
    struct event_base *base = event_base_new();
    struct server s;
    /* nothing listens on a port that was just closed */
    server_start(base, &s, NULL);
    struct sockaddr_in closed = s.addr;
    evconnlistener_free(s.lis);
    struct outcome o = { 0 };
    fetch(base, &closed, &o, 2000000, 1024);
    ck_assert_int_eq(o.err, HFETCH_ECONNECT);
    ck_assert_int_eq(o.peer_checked, 0);
    /* no answer in time */
    server_start(base, &s, NULL);
    memset(&o, 0, sizeof o);
    fetch(base, &s.addr, &o, 200000, 1024);
    ck_assert_int_eq(o.err, HFETCH_ETIMEOUT);
    evconnlistener_free(s.lis);
    /* a body over the limit */
    server_start(base, &s, "HTTP/1.1 200 OK\r\nContent-Length: 20\r\n\r\n01234567890123456789");
    memset(&o, 0, sizeof o);
    fetch(base, &s.addr, &o, 2000000, 10);
    ck_assert_int_eq(o.err, HFETCH_ETOOBIG);
    evconnlistener_free(s.lis);
    /* not HTTP */
    server_start(base, &s, "SSH-2.0-OpenSSH\r\n\r\n");
    memset(&o, 0, sizeof o);
    fetch(base, &s.addr, &o, 2000000, 1024);
    ck_assert_int_eq(o.err, HFETCH_EBAD);
    evconnlistener_free(s.lis);
    event_base_free(base);
}
END_TEST

static Suite *hfetch_suite(void)
{
    Suite *s = suite_create("hfetch");
    TCase *t = tcase_create("fetch");
    tcase_add_test(t, peer_refused_before_any_byte);
    tcase_add_test(t, a_response);
    tcase_add_test(t, failures);
    suite_add_tcase(s, t);
    return s;
}

CHECK_MAIN(hfetch_suite)
