/* httpc_tls: TLS for the load generator's connections, through GnuTLS.
 *
 * Why GnuTLS and not OpenSSL here: per record, OpenSSL 3 looks cipher
 * parameters up by name (EVP_CipherInit_ex, OSSL_PARAM_locate, strcmp) and
 * goes through its BIO layer; GnuTLS does neither. Measured against nginx
 * over TLS 1.3, 32 keep-alive connections on one core: the TLS library's
 * own CPU per request fell from ~4.5 us to ~1.5 us, the whole generator's
 * by ~6 % (see the README's HTTPS figures). GnuTLS has no read-ahead, so
 * the socket is read here, up to a record's worth at a time, into a buffer
 * of the connection's: one read(2) per response, not two (header, body).
 * Once a TLS 1.3 handshake is done, application data no longer goes
 * through GnuTLS's record layer but through tlsrec (tlsrec.h): GnuTLS then
 * sees only the records tlsrec hands it (session tickets, KeyUpdates,
 * alerts). The server-side fetches of hfetch still use OpenSSL through
 * libevent.
 *
 * Used by httpc.c only; the shared settings (struct httpc_tls) are made by
 * the owner of the connections. */
#ifndef STAMPEDE_HTTPC_TLS_H
#define STAMPEDE_HTTPC_TLS_H

#include <stddef.h>
#include <sys/types.h>

struct httpc_conn;
struct httpc_origin;

/* Shared by every connection of a loop's origins: trust (when verifying)
 * and the cipher-suite order. NULL with err set on failure. */
struct httpc_tls *httpc_tls_new(int verify, char *err, size_t errlen);
void httpc_tls_free(struct httpc_tls *t);
/* The origin's saved session (see struct httpc_origin). */
void httpc_origin_release(struct httpc_origin *o);

/* ---- for httpc.c ---- */

enum { TLSC_AGAIN = -1, TLSC_ERR = -2, TLSC_AGAIN_WRITE = -3 };
enum tlsc_step { TLSC_DONE, TLSC_WANT_READ, TLSC_WANT_WRITE, TLSC_FAILED };

/* A client session on c->fd, offering c's last session or else the
 * origin's; -1 if GnuTLS refused. */
int tlsc_start(struct httpc_conn *c);
enum tlsc_step tlsc_handshake(struct httpc_conn *c);
/* > 0 bytes, 0 the peer closed, else TLSC_AGAIN / TLSC_AGAIN_WRITE (write
 * interest needed) / TLSC_ERR (errno says why). len >= TLSREC_PLAIN_MAX:
 * a whole record is decrypted into buf. */
ssize_t tlsc_read(struct httpc_conn *c, char *buf, size_t len);
ssize_t tlsc_write(struct httpc_conn *c, const char *buf, size_t len);
/* Bytes read from the socket or decrypted that epoll cannot see. */
int tlsc_pending(const struct httpc_conn *c);
/* End the session (keeping a resumable one for the next connection). */
void tlsc_close(struct httpc_conn *c);
/* Drop c's saved session. */
void tlsc_forget(struct httpc_conn *c);

#endif
