/* Unit tests for tlsrec: a GnuTLS client and server (a certificate made
 * here, not verified) over a socketpair; after the handshake the client's
 * records go through tlsrec and the server stays GnuTLS, so every record
 * is checked by the other implementation. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "check_main.h"
#include "tlsrec.h"

#define TLS_PAIR_CHECK(cond, what) ck_assert_msg(cond, "%s", what)
#include "../tls_pair.h"

#define TLS13 "NORMAL:-VERS-ALL:+VERS-TLS1.3"

struct pair {
    int fd[2]; /* client, server */
    gnutls_session_t cli, srv;
    struct tls_pair tp;
    struct tlsrec *rec;
    struct tlsrec_ra ra;
    char ra_buf[TLSREC_MAX];
};

/* A session pair, handshake done; the client's records go through tlsrec
 * (p->rec, NULL when tlsrec does not take them). */
static void pair_open(struct pair *p, const char *prio)
{
    memset(p, 0, sizeof *p);
    tls_pair_open(&p->tp, prio);
    p->fd[0] = p->tp.fd[0];
    p->fd[1] = p->tp.fd[1];
    p->cli = p->tp.cli;
    p->srv = p->tp.srv;
    p->ra.buf = p->ra_buf;
    p->rec = tlsrec_new(p->cli);
}

static void pair_close(struct pair *p)
{
    tlsrec_free(p->rec);
    tls_pair_close(&p->tp);
}

static void server_send(struct pair *p, const void *data, size_t len)
{
    size_t off = 0;
    while (off < len) {
        ssize_t n = gnutls_record_send(p->srv, (const char *)data + off, len - off);
        ck_assert_msg(n > 0, "server send: %s", gnutls_strerror((int)n));
        off += (size_t)n;
    }
}

/* Everything the server can read now, appended at out+*have. */
static void server_drain(struct pair *p, char *out, size_t cap, size_t *have)
{
    while (*have < cap) {
        ssize_t n = gnutls_record_recv(p->srv, out + *have, cap - *have);
        if (n == GNUTLS_E_AGAIN)
            return;
        ck_assert_msg(n > 0, "server recv: %s", gnutls_strerror((int)n));
        *have += (size_t)n;
    }
}

/* Client reads until want bytes arrived. */
static void client_read_all(struct pair *p, char *out, size_t want)
{
    static char buf[TLSREC_PLAIN_MAX];
    size_t have = 0;
    while (have < want) {
        ssize_t n = tlsrec_read(p->rec, p->fd[0], &p->ra, buf, sizeof buf);
        ck_assert_msg(n > 0, "client read: %zd (%s)", n, strerror(errno));
        ck_assert_uint_le(have + (size_t)n, want);
        memcpy(out + have, buf, (size_t)n);
        have += (size_t)n;
    }
}

static void fill(char *b, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++)
        b[i] = (char)('a' + (i * 7 + seed) % 26);
}

START_TEST(both_ways_every_size)
{
    static const char *ciphers[] = { "AES-128-GCM", "AES-256-GCM", "CHACHA20-POLY1305" };
    static const gnutls_cipher_algorithm_t algs[] = { GNUTLS_CIPHER_AES_128_GCM,
                                                      GNUTLS_CIPHER_AES_256_GCM,
                                                      GNUTLS_CIPHER_CHACHA20_POLY1305 };
    static char want[70000], got[70000], buf[TLSREC_PLAIN_MAX];
    static const size_t sizes[] = { 1, 2, 100, 16383, 16384, 16385, 40000, 65536 };
    for (int c = 0; c < 3; c++) {
        char prio[200];
        snprintf(prio, sizeof prio, TLS13 ":-CIPHER-ALL:+%s", ciphers[c]);
        struct pair p;
        pair_open(&p, prio);
        ck_assert_int_eq(gnutls_cipher_get(p.cli), algs[c]);
        ck_assert_ptr_nonnull(p.rec);
        for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
            size_t n = sizes[i];
            /* server -> client: GnuTLS's records, ours to open */
            fill(want, n, (unsigned)i);
            server_send(&p, want, n);
            client_read_all(&p, got, n);
            ck_assert_mem_eq(got, want, n);
            ck_assert(!tlsrec_ready(&p.ra));
            /* client -> server: ours, GnuTLS's to open; 16 KiB at most each */
            fill(want, n, (unsigned)i + 1);
            size_t off = 0, have = 0;
            while (off < n) {
                ssize_t w = tlsrec_write(p.rec, p.fd[0], want + off, n - off);
                ck_assert_int_gt(w, 0);
                ck_assert_int_le(w, 16384);
                off += (size_t)w;
                server_drain(&p, got, sizeof got, &have);
            }
            server_drain(&p, got, sizeof got, &have);
            ck_assert_uint_eq(have, n);
            ck_assert_mem_eq(got, want, n);
        }
        /* nothing there: again; the server gone: end of stream */
        ck_assert_int_eq(tlsrec_read(p.rec, p.fd[0], &p.ra, buf, sizeof buf), TLSREC_AGAIN);
        shutdown(p.fd[1], SHUT_WR);
        ck_assert_int_eq(tlsrec_read(p.rec, p.fd[0], &p.ra, buf, sizeof buf), 0);
        pair_close(&p);
    }
}
END_TEST

/* Raw bytes the client end holds (one or more whole records). */
static size_t raw_take(struct pair *p, char *out, size_t cap)
{
    ssize_t n = recv(p->fd[0], out, cap, 0);
    ck_assert_int_gt(n, 0);
    return (size_t)n;
}

/* The read-ahead buffer holds exactly raw[0..n). */
static void ra_load(struct pair *p, const char *raw, size_t n)
{
    memcpy(p->ra.buf, raw, n);
    p->ra.off = 0;
    p->ra.len = (uint32_t)n;
}

START_TEST(a_record_split_across_reads)
{
    struct pair p;
    pair_open(&p, TLS13);
    ck_assert_ptr_nonnull(p.rec);
    static char raw[TLSREC_MAX], buf[TLSREC_PLAIN_MAX];
    server_send(&p, "split me", 8);
    size_t n = raw_take(&p, raw, sizeof raw);
    /* header only, then all but one byte: not a record yet */
    for (size_t part = 1; part < n; part += part < 5 ? 1 : n - 6) {
        ra_load(&p, raw, part);
        ck_assert(!tlsrec_ready(&p.ra));
        ck_assert_int_eq(tlsrec_read(p.rec, p.fd[0], &p.ra, buf, sizeof buf), TLSREC_AGAIN);
    }
    /* the rest arrives through the socket: one record */
    ra_load(&p, raw, 5);
    ck_assert_int_eq(send(p.fd[1], raw + 5, n - 5, 0), (ssize_t)(n - 5));
    ck_assert_int_eq(tlsrec_read(p.rec, p.fd[0], &p.ra, buf, sizeof buf), 8);
    ck_assert_mem_eq(buf, "split me", 8);
    pair_close(&p);
}
END_TEST

START_TEST(a_changed_byte_fails_authentication)
{
    struct pair p;
    pair_open(&p, TLS13);
    static char raw[TLSREC_MAX], buf[TLSREC_PLAIN_MAX];
    server_send(&p, "genuine", 7);
    size_t n = raw_take(&p, raw, sizeof raw);
    for (size_t at = 0; at < n; at++) {
        if (at == 3 || at == 4)
            continue; /* the length: a different record size, not a forgery */
        ra_load(&p, raw, n);
        p.ra.buf[at] ^= 0x20;
        errno = 0;
        ssize_t r = tlsrec_read(p.rec, p.fd[0], &p.ra, buf, sizeof buf);
        if (at == 0) { /* not "application data" outside: GnuTLS's to judge */
            ck_assert_int_eq(r, TLSREC_OTHER);
            continue;
        }
        ck_assert_msg(r == TLSREC_ERR && errno == EBADMSG, "byte %zu: %zd", at, r);
    }
    /* untouched, it opens: the failures did not move the sequence number */
    ra_load(&p, raw, n);
    ck_assert_int_eq(tlsrec_read(p.rec, p.fd[0], &p.ra, buf, sizeof buf), 7);
    pair_close(&p);
}
END_TEST

START_TEST(a_key_update_is_handed_over_whole)
{
    struct pair p;
    pair_open(&p, TLS13);
    static char raw[TLSREC_MAX], buf[TLSREC_PLAIN_MAX];
    server_send(&p, "before", 6);
    client_read_all(&p, buf, 6);
    ck_assert_int_eq(gnutls_session_key_update(p.srv, 0), 0);
    server_send(&p, "after", 5);
    size_t n = raw_take(&p, raw, sizeof raw);
    ra_load(&p, raw, n);
    /* the KeyUpdate record is not ours: its length is said, nothing consumed */
    ck_assert_int_eq(tlsrec_read(p.rec, p.fd[0], &p.ra, buf, sizeof buf), TLSREC_OTHER);
    uint32_t len = tlsrec_other_len(p.rec);
    ck_assert_uint_lt(len, n);
    ck_assert_uint_eq(p.ra.off, 0);
    ck_assert_uint_eq(5 + ((unsigned char)raw[3] << 8 | (unsigned char)raw[4]), len);
    pair_close(&p);
}
END_TEST

START_TEST(a_full_socket_keeps_the_record)
{
    struct pair p;
    pair_open(&p, TLS13);
    int small = 4096;
    ck_assert_int_eq(setsockopt(p.fd[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof small), 0);
    static char want[1 << 20], got[1 << 20];
    fill(want, sizeof want, 3);
    size_t off = 0, have = 0;
    int agains = 0;
    while (off < sizeof want) {
        ssize_t w = tlsrec_write(p.rec, p.fd[0], want + off, sizeof want - off);
        if (w == TLSREC_AGAIN) {
            agains++;
            server_drain(&p, got, sizeof got, &have); /* room again; same bytes next */
            continue;
        }
        ck_assert_int_gt(w, 0);
        off += (size_t)w;
    }
    for (int i = 0; i < 100 && have < sizeof want; i++)
        server_drain(&p, got, sizeof got, &have);
    ck_assert_int_gt(agains, 0); /* the partial-record path ran */
    ck_assert_uint_eq(have, sizeof want);
    ck_assert_mem_eq(got, want, sizeof want);
    pair_close(&p);
}
END_TEST

START_TEST(tls12_stays_with_gnutls)
{
    struct pair p;
    pair_open(&p, "NORMAL:-VERS-ALL:+VERS-TLS1.2");
    ck_assert_int_eq(gnutls_protocol_get_version(p.cli), GNUTLS_TLS1_2);
    ck_assert_ptr_null(p.rec);
    pair_close(&p);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("tlsrec");
    TCase *tc = tcase_create("records");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, both_ways_every_size);
    tcase_add_test(tc, a_record_split_across_reads);
    tcase_add_test(tc, a_changed_byte_fails_authentication);
    tcase_add_test(tc, a_key_update_is_handed_over_whole);
    tcase_add_test(tc, a_full_socket_keeps_the_record);
    tcase_add_test(tc, tls12_stays_with_gnutls);
    suite_add_tcase(s, tc);
    return s;
}

CHECK_MAIN(make_suite)
