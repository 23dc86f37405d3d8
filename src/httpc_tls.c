/* httpc_tls: GnuTLS sessions for httpc's connections (see httpc_tls.h). */
#include "httpc_tls.h"

#include "httpc.h"
#include "log.h"
#include "xmalloc.h"

#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

_Static_assert((int)TLSREC_AGAIN == (int)TLSC_AGAIN && (int)TLSREC_ERR == (int)TLSC_ERR,
               "one vocabulary");

/* What browsers and Go (k6) offer first: AES-128-GCM, then ChaCha20, then
 * AES-256 (the server still chooses); versions and the rest as GnuTLS's
 * defaults (the system's policy applies). */
#define PRIORITIES                                                                                \
    "NORMAL:-CIPHER-ALL:+AES-128-GCM:+CHACHA20-POLY1305:+AES-256-GCM:+AES-128-CBC:+AES-256-CBC"

struct httpc_tls {
    gnutls_certificate_credentials_t cred;
    gnutls_priority_t prio;
    int verify;
};

struct httpc_tls *httpc_tls_new(int verify, char *err, size_t errlen)
{
    struct httpc_tls *t = xcalloc(1, sizeof *t);
    t->verify = verify;
    int r = gnutls_certificate_allocate_credentials(&t->cred);
    if (r < 0) {
        snprintf(err, errlen, "cannot create TLS credentials: %s", gnutls_strerror(r));
        free(t);
        return NULL;
    }
    if (verify && (r = gnutls_certificate_set_x509_system_trust(t->cred)) <= 0) {
        snprintf(err, errlen, "cannot load the system's CA certificates: %s",
                 r < 0 ? gnutls_strerror(r) : "none found");
        httpc_tls_free(t);
        return NULL;
    }
    const char *where = NULL;
    if ((r = gnutls_priority_init(&t->prio, PRIORITIES, &where)) < 0) {
        snprintf(err, errlen, "cannot set the TLS cipher suites: %s at '%s'", gnutls_strerror(r),
                 where ? where : "");
        t->prio = NULL;
        httpc_tls_free(t);
        return NULL;
    }
    return t;
}

void httpc_tls_free(struct httpc_tls *t)
{
    if (!t)
        return;
    if (t->prio)
        gnutls_priority_deinit(t->prio);
    gnutls_certificate_free_credentials(t->cred);
    free(t);
}

static void datum_drop(gnutls_datum_t *d)
{
    gnutls_free(d->data);
    d->data = NULL;
    d->size = 0;
}

void httpc_origin_release(struct httpc_origin *o)
{
    datum_drop(&o->session);
}

void tlsc_forget(struct httpc_conn *c)
{
    datum_drop(&c->session);
}

/* ---- transport: our own read-ahead ---- */

static ssize_t pull(gnutls_transport_ptr_t p, void *buf, size_t len)
{
    struct httpc_conn *c = p;
    struct tlsrec_ra *ra = &c->ra;
    if (c->ra_lim && ra->off >= c->ra_lim) {
        /* handed one record (see delegate): nothing after it yet */
        gnutls_transport_set_errno(c->tls, EAGAIN);
        return -1;
    }
    if (ra->off == ra->len) {
        ssize_t n = recv(c->fd, ra->buf, TLSREC_MAX, 0);
        if (n <= 0) {
            if (n < 0) {
                c->tls_errno = errno;
                gnutls_transport_set_errno(c->tls, errno);
            }
            return n;
        }
        ra->off = 0;
        ra->len = (uint32_t)n;
    }
    size_t have = (c->ra_lim ? c->ra_lim : ra->len) - ra->off;
    size_t take = len < have ? len : have;
    memcpy(buf, ra->buf + ra->off, take);
    ra->off += (uint32_t)take;
    return (ssize_t)take;
}

/* Non-blocking sessions: GnuTLS only asks whether something is there. */
static int pull_timeout(gnutls_transport_ptr_t p, unsigned int ms)
{
    struct httpc_conn *c = p;
    (void)ms;
    if (c->ra.off < (c->ra_lim ? c->ra_lim : c->ra.len))
        return 1;
    if (c->ra_lim)
        return 0;
    struct pollfd pfd = { .fd = c->fd, .events = POLLIN };
    int r = poll(&pfd, 1, 0);
    if (r < 0) {
        c->tls_errno = errno;
        gnutls_transport_set_errno(c->tls, errno);
    }
    return r;
}

static ssize_t push(gnutls_transport_ptr_t p, const void *buf, size_t len)
{
    struct httpc_conn *c = p;
    ssize_t n = c->rec ? tlsrec_push(c->rec, c->fd, buf, len)
                       : send(c->fd, buf, len, MSG_NOSIGNAL);
    if (n < 0) {
        c->tls_errno = errno;
        gnutls_transport_set_errno(c->tls, errno);
    }
    return n;
}

/* ---- sessions ---- */

int tlsc_start(struct httpc_conn *c)
{
    const struct httpc_tls *t = c->origin->tls_cfg;
    if (gnutls_init(&c->tls, GNUTLS_CLIENT | GNUTLS_NONBLOCK) < 0) {
        c->tls = NULL;
        return -1;
    }
    if (gnutls_priority_set(c->tls, t->prio) < 0 ||
        gnutls_credentials_set(c->tls, GNUTLS_CRD_CERTIFICATE, t->cred) < 0) {
        gnutls_deinit(c->tls);
        c->tls = NULL;
        return -1;
    }
    /* a whole record fits: one read takes one, often several */
    if (!c->ra.buf)
        c->ra.buf = xmalloc(TLSREC_MAX);
    c->ra.off = c->ra.len = 0;
    c->ra_lim = 0;
    gnutls_transport_set_ptr(c->tls, c);
    gnutls_transport_set_pull_function(c->tls, pull);
    gnutls_transport_set_pull_timeout_function(c->tls, pull_timeout);
    gnutls_transport_set_push_function(c->tls, push);
    const char *name = c->origin->sni;
    if (name) {
        unsigned char ip[16];
        int is_ip = inet_pton(AF_INET, name, ip) == 1 || inet_pton(AF_INET6, name, ip) == 1;
        if (!is_ip)
            gnutls_server_name_set(c->tls, GNUTLS_NAME_DNS, name, strlen(name));
        if (t->verify)
            gnutls_session_set_verify_cert(c->tls, name, 0); /* IP addresses are matched as such */
    } else if (t->verify) {
        gnutls_session_set_verify_cert(c->tls, NULL, 0);
    }
    /* Each connection resumes with the last session it was given, else the
     * origin's latest: with one shared slot, connections opening together
     * would all offer the same ticket. A failure only costs a full
     * handshake. */
    const gnutls_datum_t *sess = c->session.size ? &c->session : &c->origin->session;
    if (sess->size)
        gnutls_session_set_data(c->tls, sess->data, sess->size);
    return 0;
}

enum tlsc_step tlsc_handshake(struct httpc_conn *c)
{
    int r;
    do
        r = gnutls_handshake(c->tls);
    while (r < 0 && r != GNUTLS_E_AGAIN && !gnutls_error_is_fatal(r));
    if (r == 0) {
        c->rec = tlsrec_new(c->tls); /* NULL: GnuTLS does the records */
        return TLSC_DONE;
    }
    if (r == GNUTLS_E_AGAIN)
        return gnutls_record_get_direction(c->tls) ? TLSC_WANT_WRITE : TLSC_WANT_READ;
    if (log_enabled(LOG_DEBUG)) {
        char why[256] = "";
        if (r == GNUTLS_E_CERTIFICATE_VERIFICATION_ERROR) {
            gnutls_datum_t out = { NULL, 0 };
            unsigned st = gnutls_session_get_verify_cert_status(c->tls);
            if (gnutls_certificate_verification_status_print(st, GNUTLS_CRT_X509, &out, 0) == 0) {
                snprintf(why, sizeof why, " (%s)", (const char *)out.data);
                gnutls_free(out.data);
            }
        }
        log_debug("httpc", "TLS handshake failed: %s%s", gnutls_strerror(r), why);
    }
    return TLSC_FAILED;
}

/* A result that is neither data nor a fatal error: call again if bytes
 * wait (GnuTLS may stop after a post-handshake message, such as a session
 * ticket, with the next record already read), else wait for the socket. */
static int again(struct httpc_conn *c, ssize_t r)
{
    if (r == GNUTLS_E_AGAIN && !tlsc_pending(c))
        return gnutls_record_get_direction(c->tls) ? TLSC_AGAIN_WRITE : TLSC_AGAIN;
    return 0;
}

static ssize_t failure(struct httpc_conn *c, ssize_t r)
{
    if (r == GNUTLS_E_PREMATURE_TERMINATION)
        return 0; /* the peer closed without close_notify: HTTP frames the response */
    if (r == GNUTLS_E_PULL_ERROR || r == GNUTLS_E_PUSH_ERROR)
        errno = c->tls_errno;
    else
        errno = EPROTO;
    return TLSC_ERR;
}

/* GnuTLS does the records: before the handshake's end, for TLS 1.2, and
 * for the records tlsrec hands over. */
static ssize_t read_by_gnutls(struct httpc_conn *c, char *buf, size_t len)
{
    for (int tries = 0; tries < 16; tries++) {
        ssize_t r = gnutls_record_recv(c->tls, buf, len);
        if (r >= 0)
            return r;
        if (r == GNUTLS_E_AGAIN || r == GNUTLS_E_INTERRUPTED || !gnutls_error_is_fatal((int)r)) {
            int a = again(c, r);
            if (a)
                return a;
            continue;
        }
        return failure(c, r);
    }
    return TLSC_AGAIN; /* non-fatal results only: the next readable event goes on */
}

/* GnuTLS reads the one record at ra.off that tlsrec does not handle (a
 * session ticket, a KeyUpdate, an alert, a bad record), at our sequence
 * numbers; then tlsrec takes the keys and numbers back. TLSC_AGAIN when it
 * was handled and reading goes on, else what GnuTLS said. */
static ssize_t delegate(struct httpc_conn *c, char *buf, size_t len)
{
    if (tlsrec_export(c->rec, c->tls) < 0) {
        errno = EPROTO;
        return TLSC_ERR;
    }
    /* never past what was read: a header announcing more than a record
     * may hold is handed over alone, for GnuTLS to refuse */
    uint32_t end = c->ra.off + tlsrec_other_len(c->rec);
    c->ra_lim = end < c->ra.len ? end : c->ra.len;
    ssize_t r = TLSC_AGAIN;
    for (int tries = 0; tries < 16; tries++) {
        ssize_t g = gnutls_record_recv(c->tls, buf, len);
        if (g >= 0) {
            r = g;
            break;
        }
        if (g != GNUTLS_E_AGAIN && g != GNUTLS_E_INTERRUPTED && gnutls_error_is_fatal((int)g)) {
            r = failure(c, g);
            break;
        }
        if (c->ra.off >= c->ra_lim)
            break; /* all of it read, and handled */
    }
    int stuck = r == TLSC_AGAIN && c->ra.off < c->ra_lim;
    c->ra_lim = 0;
    if (stuck || (r != TLSC_ERR && tlsrec_import(c->rec, c->tls) < 0)) {
        errno = EPROTO;
        return TLSC_ERR;
    }
    return r;
}

ssize_t tlsc_read(struct httpc_conn *c, char *buf, size_t len)
{
    if (!c->rec)
        return read_by_gnutls(c, buf, len);
    for (int tries = 0; tries < 16; tries++) {
        ssize_t r = tlsrec_read(c->rec, c->fd, &c->ra, buf, len);
        if (r != TLSREC_OTHER)
            return r; /* TLSREC_AGAIN/ERR are TLSC_AGAIN/ERR */
        if ((r = delegate(c, buf, len)) != TLSC_AGAIN)
            return r;
    }
    return TLSC_AGAIN;
}

ssize_t tlsc_write(struct httpc_conn *c, const char *buf, size_t len)
{
    if (c->rec) {
        if (tlsrec_rekey_due(c->rec)) {
            /* GnuTLS sends the KeyUpdate (through push, behind anything of
             * ours unsent) and changes its write key; we take it */
            if (tlsrec_export(c->rec, c->tls) < 0 ||
                gnutls_session_key_update(c->tls, 0) < 0 ||
                tlsrec_import(c->rec, c->tls) < 0) {
                errno = EPROTO;
                return TLSC_ERR;
            }
        }
        return tlsrec_write(c->rec, c->fd, buf, len);
    }
    for (int tries = 0; tries < 16; tries++) {
        /* after an AGAIN, httpc calls again with the same bytes, as GnuTLS asks */
        ssize_t r = gnutls_record_send(c->tls, buf, len);
        if (r > 0)
            return r;
        if (r == GNUTLS_E_AGAIN)
            return TLSC_AGAIN;
        if (r == GNUTLS_E_INTERRUPTED || (r < 0 && !gnutls_error_is_fatal((int)r)))
            continue;
        return failure(c, r < 0 ? r : GNUTLS_E_PUSH_ERROR);
    }
    return TLSC_AGAIN;
}

int tlsc_pending(const struct httpc_conn *c)
{
    if (c->rec)
        return tlsrec_ready(&c->ra);
    return c->ra.off < c->ra.len || gnutls_record_check_pending(c->tls) > 0;
}

void tlsc_close(struct httpc_conn *c)
{
    if (!c->tls)
        return;
    /* a ticket arrived (TLS 1.3: after the handshake): keep it for this
     * connection's next handshake and the origin's connections that have
     * none */
    if (gnutls_session_get_flags(c->tls) & GNUTLS_SFLAGS_SESSION_TICKET) {
        gnutls_datum_t d = { NULL, 0 };
        if (gnutls_session_get_data2(c->tls, &d) == 0 && d.size) {
            datum_drop(&c->session);
            c->session = d;
            datum_drop(&c->origin->session);
            if ((c->origin->session.data = gnutls_malloc(d.size))) {
                memcpy(c->origin->session.data, d.data, d.size);
                c->origin->session.size = d.size;
            }
        } else {
            gnutls_free(d.data);
        }
    }
    tlsrec_free(c->rec);
    c->rec = NULL;
    gnutls_deinit(c->tls);
    c->tls = NULL;
    free(c->ra.buf);
    c->ra.buf = NULL;
    c->ra.off = c->ra.len = c->ra_lim = 0;
}
