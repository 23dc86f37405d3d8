/* tlsrec: the TLS 1.3 record layer of a client connection after its
 * handshake, done here rather than by GnuTLS (user-space "kTLS").
 *
 * Why: per keep-alive request GnuTLS 3.7 allocates four ~16.7 KiB buffers
 * (the record header and body are read into one each, joined into a
 * third, decrypted into a fourth) and walks its mbuffer and epoch layers;
 * that was ~11 % of the load generator's CPU against nginx. Here a record
 * is decrypted straight from the connection's read-ahead buffer into the
 * caller's, and a request is encrypted into one stack buffer and sent with
 * one send(2). The AEAD itself is still GnuTLS's (gnutls_aead_cipher_*,
 * the same accelerated code its record layer uses).
 *
 * Only application data is handled here. Any other record (a session
 * ticket, a KeyUpdate, an alert, anything malformed) is handed back to
 * GnuTLS with the sequence numbers synced (gnutls_record_set_state, made
 * for this), one record at a time; afterwards the keys and sequence
 * numbers are taken back from GnuTLS (a KeyUpdate changes them).
 *
 * Used by httpc_tls.c only. One loop owns a connection and its tlsrec. */
#ifndef STAMPEDE_TLSREC_H
#define STAMPEDE_TLSREC_H

#include <gnutls/gnutls.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Plaintext of one record at most; tlsrec_read's buffer holds this much. */
#define TLSREC_PLAIN_MAX (16384 + 256)
/* A whole record: header, ciphertext and tag (RFC 8446 5.2). */
#define TLSREC_MAX (5 + 16384 + 256)

struct tlsrec;

/* The read-ahead buffer tlsrec_read parses, owned by the connection:
 * bytes [off, len) were read from the socket and not consumed. */
struct tlsrec_ra {
    char *buf; /* TLSREC_MAX bytes */
    uint32_t off, len;
};

/* Take over the records of an established session: NULL when this one is
 * not TLS 1.3 with an AEAD we handle (AES-GCM, ChaCha20-Poly1305), or
 * GnuTLS would not give its keys; GnuTLS then keeps doing the records.
 * Free with tlsrec_free. */
struct tlsrec *tlsrec_new(gnutls_session_t s);
void tlsrec_free(struct tlsrec *r);

enum { TLSREC_AGAIN = -1, TLSREC_ERR = -2, TLSREC_OTHER = -4 };

/* One record's plaintext into buf (len >= TLSREC_PLAIN_MAX), reading fd
 * into ra when no whole record is there: > 0 bytes, 0 the peer closed
 * (without close_notify: HTTP frames the response), TLSREC_AGAIN,
 * TLSREC_ERR with errno set (EBADMSG: a record failed authentication), or
 * TLSREC_OTHER: the record at ra->off is not application data and
 * tlsrec_other_len bytes long — hand exactly those to GnuTLS. */
ssize_t tlsrec_read(struct tlsrec *r, int fd, struct tlsrec_ra *ra, char *buf, size_t len);
uint32_t tlsrec_other_len(const struct tlsrec *r);
/* A whole record waits in ra (or a bad header: the next read says so). */
int tlsrec_ready(const struct tlsrec_ra *ra);

/* Up to 16 KiB of buf as one record: bytes taken, TLSREC_AGAIN (call
 * again with the same bytes when writable: the record is partly sent and
 * the rest is kept here), or TLSREC_ERR with errno set. */
ssize_t tlsrec_write(struct tlsrec *r, int fd, const char *buf, size_t len);
/* GnuTLS's own records while it handles one of ours (a KeyUpdate reply):
 * sent after whatever of ours is still unsent, kept here if the socket is
 * full; len, or -1 with errno set. */
ssize_t tlsrec_push(struct tlsrec *r, int fd, const void *buf, size_t len);

/* Before GnuTLS reads or writes a record: give it our sequence numbers.
 * After: take its keys and sequence numbers back. 0, or -1 when GnuTLS
 * refused (the connection cannot go on). */
int tlsrec_export(const struct tlsrec *r, gnutls_session_t s);
int tlsrec_import(struct tlsrec *r, gnutls_session_t s);
/* The write key has protected as many records as its AEAD allows before
 * it must change (RFC 8446 5.5): ask GnuTLS for a KeyUpdate. */
int tlsrec_rekey_due(const struct tlsrec *r);

#endif
