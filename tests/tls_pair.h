/* tls_pair: a GnuTLS client and server over a socketpair, handshake done,
 * for the tests and the fuzz target of tlsrec (tests/unit/test_tlsrec.c,
 * contrib/fuzz/fuzz_tlsrec.c). The server has a self-signed ECDSA
 * certificate made here; the client does not verify it. Both ends are
 * non-blocking.
 *
 * The includer defines TLS_PAIR_CHECK(cond, what), which must not return
 * when cond is false (a Check assertion, or an abort). */
#ifndef STAMPEDE_TLS_PAIR_H
#define STAMPEDE_TLS_PAIR_H

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct tls_pair {
    int fd[2]; /* client, server */
    gnutls_session_t cli, srv;
    gnutls_certificate_credentials_t ccred, scred;
    gnutls_x509_crt_t crt;
    gnutls_x509_privkey_t key;
};

static void tls_pair_cert(struct tls_pair *p)
{
    time_t now = time(NULL);
    TLS_PAIR_CHECK(gnutls_x509_privkey_init(&p->key) == 0, "key");
    TLS_PAIR_CHECK(gnutls_x509_privkey_generate(p->key, GNUTLS_PK_ECDSA,
                                                GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1),
                                                0) == 0,
                   "key generation");
    TLS_PAIR_CHECK(gnutls_x509_crt_init(&p->crt) == 0, "certificate");
    TLS_PAIR_CHECK(gnutls_x509_crt_set_version(p->crt, 3) == 0 &&
                       gnutls_x509_crt_set_serial(p->crt, "\x01", 1) == 0 &&
                       gnutls_x509_crt_set_activation_time(p->crt, now - 60) == 0 &&
                       gnutls_x509_crt_set_expiration_time(p->crt, now + 3600) == 0 &&
                       gnutls_x509_crt_set_dn(p->crt, "CN=tlsrec", NULL) == 0 &&
                       gnutls_x509_crt_set_key(p->crt, p->key) == 0 &&
                       gnutls_x509_crt_sign2(p->crt, p->crt, p->key, GNUTLS_DIG_SHA256, 0) == 0,
                   "certificate fields");
}

/* Open the pair with one priority string for both ends and shake hands. */
static void tls_pair_open(struct tls_pair *p, const char *prio)
{
    memset(p, 0, sizeof *p);
    TLS_PAIR_CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, p->fd) == 0, "socketpair");
    tls_pair_cert(p);
    TLS_PAIR_CHECK(gnutls_certificate_allocate_credentials(&p->ccred) == 0 &&
                       gnutls_certificate_allocate_credentials(&p->scred) == 0 &&
                       gnutls_certificate_set_x509_key(p->scred, &p->crt, 1, p->key) == 0,
                   "credentials");
    TLS_PAIR_CHECK(gnutls_init(&p->cli, GNUTLS_CLIENT | GNUTLS_NONBLOCK) == 0 &&
                       gnutls_init(&p->srv, GNUTLS_SERVER | GNUTLS_NONBLOCK) == 0,
                   "sessions");
    TLS_PAIR_CHECK(gnutls_priority_set_direct(p->cli, prio, NULL) == 0 &&
                       gnutls_priority_set_direct(p->srv, prio, NULL) == 0,
                   "priorities");
    TLS_PAIR_CHECK(gnutls_credentials_set(p->cli, GNUTLS_CRD_CERTIFICATE, p->ccred) == 0 &&
                       gnutls_credentials_set(p->srv, GNUTLS_CRD_CERTIFICATE, p->scred) == 0,
                   "credentials set");
    gnutls_transport_set_int(p->cli, p->fd[0]);
    gnutls_transport_set_int(p->srv, p->fd[1]);
    int rc = GNUTLS_E_AGAIN, rs = GNUTLS_E_AGAIN;
    for (int i = 0; i < 1000 && (rc != 0 || rs != 0); i++) {
        if (rc != 0)
            rc = gnutls_handshake(p->cli);
        if (rs != 0)
            rs = gnutls_handshake(p->srv);
        TLS_PAIR_CHECK(rc == 0 || rc == GNUTLS_E_AGAIN, gnutls_strerror(rc));
        TLS_PAIR_CHECK(rs == 0 || rs == GNUTLS_E_AGAIN, gnutls_strerror(rs));
    }
    TLS_PAIR_CHECK(rc == 0 && rs == 0, "handshake unfinished");
}

static void tls_pair_close(struct tls_pair *p)
{
    gnutls_deinit(p->cli);
    gnutls_deinit(p->srv);
    gnutls_certificate_free_credentials(p->ccred);
    gnutls_certificate_free_credentials(p->scred);
    gnutls_x509_crt_deinit(p->crt);
    gnutls_x509_privkey_deinit(p->key);
    close(p->fd[0]);
    close(p->fd[1]);
}

#endif
