/* tlsrec: TLS 1.3 application-data records done in place (see tlsrec.h). */
#include "tlsrec.h"

#include "xmalloc.h"

#include <errno.h>
#include <gnutls/crypto.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define IV_LEN 12
#define KEY_MAX 32
#define CT_ALERT 21
#define CT_APPDATA 23
/* RFC 8446 5.5: AES-GCM keys protect at most 2^24.5 records; change well
 * before (ChaCha20-Poly1305 has no practical limit) */
#define GCM_RECORDS_PER_KEY (1ull << 24)

struct dir {
    gnutls_aead_cipher_hd_t h;
    unsigned char key[KEY_MAX];
    unsigned char iv[IV_LEN];
    unsigned key_len;
    uint64_t seq;
};

struct tlsrec {
    gnutls_cipher_algorithm_t alg;
    unsigned tag_len;
    uint64_t rekey_at; /* write records per key, 0: no limit */
    struct dir rd, wr;
    uint32_t other_len; /* the record TLSREC_OTHER hands to GnuTLS */
    /* ciphertext not yet sent: the rest of our last record (its plaintext
     * length in w_plain until it is all out) and GnuTLS's records after it */
    char *wb;
    size_t wb_off, wb_len, wb_cap;
    size_t w_plain;
};

static uint64_t get_be64(const unsigned char b[8])
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | b[i];
    return v;
}

static void put_be64(unsigned char b[8], uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        b[i] = (unsigned char)v;
}

/* The key, IV and next sequence number of one direction; a new AEAD
 * context only when the key changed (a KeyUpdate). */
static int dir_load(struct dir *d, gnutls_session_t s, unsigned read, gnutls_cipher_algorithm_t alg)
{
    gnutls_datum_t iv = { NULL, 0 }, key = { NULL, 0 };
    unsigned char seq[8];
    if (gnutls_record_get_state(s, read, NULL, &iv, &key, seq) < 0 || iv.size != IV_LEN ||
        key.size == 0 || key.size > KEY_MAX)
        return -1;
    if (!d->h || key.size != d->key_len || memcmp(key.data, d->key, key.size) != 0) {
        gnutls_aead_cipher_hd_t h;
        if (gnutls_aead_cipher_init(&h, alg, &key) < 0)
            return -1;
        if (d->h)
            gnutls_aead_cipher_deinit(d->h);
        d->h = h;
        memcpy(d->key, key.data, key.size);
        d->key_len = key.size;
    }
    memcpy(d->iv, iv.data, IV_LEN);
    d->seq = get_be64(seq);
    return 0;
}

/* RFC 8446 5.3: the IV with the sequence number XORed into its end. */
static void nonce(const struct dir *d, unsigned char out[IV_LEN])
{
    unsigned char seq[8];
    put_be64(seq, d->seq);
    memcpy(out, d->iv, IV_LEN);
    for (int i = 0; i < 8; i++)
        out[IV_LEN - 8 + i] ^= seq[i];
}

struct tlsrec *tlsrec_new(gnutls_session_t s)
{
    if (gnutls_protocol_get_version(s) != GNUTLS_TLS1_3)
        return NULL;
    gnutls_cipher_algorithm_t alg = gnutls_cipher_get(s);
    if (alg != GNUTLS_CIPHER_AES_128_GCM && alg != GNUTLS_CIPHER_AES_256_GCM &&
        alg != GNUTLS_CIPHER_CHACHA20_POLY1305)
        return NULL;
    struct tlsrec *r = xcalloc(1, sizeof *r);
    r->alg = alg;
    r->tag_len = gnutls_cipher_get_tag_size(alg);
    r->rekey_at = alg == GNUTLS_CIPHER_CHACHA20_POLY1305 ? 0 : GCM_RECORDS_PER_KEY;
    if (r->tag_len == 0 || tlsrec_import(r, s) < 0) {
        tlsrec_free(r);
        return NULL;
    }
    return r;
}

void tlsrec_free(struct tlsrec *r)
{
    if (!r)
        return;
    if (r->rd.h)
        gnutls_aead_cipher_deinit(r->rd.h);
    if (r->wr.h)
        gnutls_aead_cipher_deinit(r->wr.h);
    free(r->wb);
    free(r);
}

int tlsrec_import(struct tlsrec *r, gnutls_session_t s)
{
    if (dir_load(&r->rd, s, 1, r->alg) < 0 || dir_load(&r->wr, s, 0, r->alg) < 0)
        return -1;
    return 0;
}

int tlsrec_export(const struct tlsrec *r, gnutls_session_t s)
{
    unsigned char rs[8], ws[8];
    put_be64(rs, r->rd.seq);
    put_be64(ws, r->wr.seq);
    if (gnutls_record_set_state(s, 1, rs) < 0 || gnutls_record_set_state(s, 0, ws) < 0)
        return -1;
    return 0;
}

int tlsrec_rekey_due(const struct tlsrec *r)
{
    return r->rekey_at && r->wr.seq >= r->rekey_at;
}

uint32_t tlsrec_other_len(const struct tlsrec *r)
{
    return r->other_len;
}

static uint32_t rec_len(const unsigned char *h)
{
    return (uint32_t)h[3] << 8 | h[4];
}

int tlsrec_ready(const struct tlsrec_ra *ra)
{
    uint32_t have = ra->len - ra->off;
    if (have < 5)
        return 0;
    uint32_t n = rec_len((const unsigned char *)ra->buf + ra->off);
    return n > TLSREC_MAX - 5 || have >= 5 + n;
}

/* Room for a whole record after ra->off: move what is left to the front. */
static void ra_compact(struct tlsrec_ra *ra)
{
    if (ra->off == ra->len) {
        ra->off = ra->len = 0;
    } else if (ra->off > 0) {
        memmove(ra->buf, ra->buf + ra->off, ra->len - ra->off);
        ra->len -= ra->off;
        ra->off = 0;
    }
}

ssize_t tlsrec_read(struct tlsrec *r, int fd, struct tlsrec_ra *ra, char *buf, size_t len)
{
    if (len < TLSREC_PLAIN_MAX) {
        errno = EINVAL;
        return TLSREC_ERR;
    }
    for (;;) {
        if (!tlsrec_ready(ra)) {
            ra_compact(ra);
            ssize_t n = recv(fd, ra->buf + ra->len, TLSREC_MAX - ra->len, 0);
            if (n > 0) {
                ra->len += (uint32_t)n;
                continue;
            }
            if (n == 0)
                return 0;
            return errno == EAGAIN || errno == EINTR ? TLSREC_AGAIN : TLSREC_ERR;
        }
        unsigned char *h = (unsigned char *)ra->buf + ra->off;
        uint32_t n = rec_len(h);
        r->other_len = 5 + n;
        /* after the handshake every record is "application data" outside
         * (RFC 8446 5.2); anything else, or a size no peer may send, is for
         * GnuTLS to judge and report */
        if (h[0] != CT_APPDATA || n > TLSREC_MAX - 5 || n <= r->tag_len)
            return TLSREC_OTHER;
        unsigned char iv[IV_LEN];
        nonce(&r->rd, iv);
        size_t plain = len;
        if (gnutls_aead_cipher_decrypt(r->rd.h, iv, IV_LEN, h, 5, r->tag_len, h + 5, n, buf,
                                       &plain) < 0) {
            errno = EBADMSG;
            return TLSREC_ERR;
        }
        /* the real content type is the last non-zero byte (5.4) */
        while (plain > 0 && buf[plain - 1] == 0)
            plain--;
        if (plain == 0 || buf[plain - 1] != CT_APPDATA)
            return TLSREC_OTHER; /* GnuTLS decrypts it again, at this sequence number */
        r->rd.seq++;
        ra->off += 5 + n;
        if (plain > 1)
            return (ssize_t)(plain - 1);
    }
}

/* Queue ciphertext behind what is unsent. */
static void wb_add(struct tlsrec *r, const void *p, size_t n)
{
    if (r->wb_off == r->wb_len)
        r->wb_off = r->wb_len = 0;
    if (r->wb_len + n > r->wb_cap) {
        r->wb_cap = r->wb_len + n > 2 * r->wb_cap ? r->wb_len + n : 2 * r->wb_cap;
        r->wb = xrealloc(r->wb, r->wb_cap);
    }
    memcpy(r->wb + r->wb_len, p, n);
    r->wb_len += n;
}

/* Send what is queued: 0 all out, TLSREC_AGAIN, TLSREC_ERR. */
static int wb_flush(struct tlsrec *r, int fd)
{
    while (r->wb_off < r->wb_len) {
        ssize_t n = send(fd, r->wb + r->wb_off, r->wb_len - r->wb_off, MSG_NOSIGNAL);
        if (n < 0)
            return errno == EAGAIN || errno == EINTR ? TLSREC_AGAIN : TLSREC_ERR;
        r->wb_off += (size_t)n;
    }
    return 0;
}

ssize_t tlsrec_write(struct tlsrec *r, int fd, const char *buf, size_t len)
{
    if (r->wb_off < r->wb_len) {
        int f = wb_flush(r, fd);
        if (f < 0)
            return f;
        if (r->w_plain) { /* the record of these bytes is out now */
            size_t done = r->w_plain;
            r->w_plain = 0;
            return (ssize_t)done;
        }
    }
    size_t chunk = len < 16384 ? len : 16384;
    unsigned char plain[16384 + 1];
    unsigned char out[5 + 16384 + 1 + 32];
    memcpy(plain, buf, chunk);
    plain[chunk] = CT_APPDATA;
    size_t ct = chunk + 1 + r->tag_len;
    out[0] = CT_APPDATA;
    out[1] = 3;
    out[2] = 3;
    out[3] = (unsigned char)(ct >> 8);
    out[4] = (unsigned char)ct;
    unsigned char iv[IV_LEN];
    nonce(&r->wr, iv);
    size_t outlen = sizeof out - 5;
    if (gnutls_aead_cipher_encrypt(r->wr.h, iv, IV_LEN, out, 5, r->tag_len, plain, chunk + 1,
                                   out + 5, &outlen) < 0) {
        errno = EPROTO;
        return TLSREC_ERR;
    }
    r->wr.seq++;
    ssize_t n = send(fd, out, 5 + outlen, MSG_NOSIGNAL);
    if (n == (ssize_t)(5 + outlen))
        return (ssize_t)chunk;
    if (n < 0) {
        if (errno != EAGAIN && errno != EINTR)
            return TLSREC_ERR;
        n = 0;
    }
    /* the record is made (its sequence number used): the rest goes out
     * before anything else, and then these bytes count as written */
    wb_add(r, out + n, 5 + outlen - (size_t)n);
    r->w_plain = chunk;
    return TLSREC_AGAIN;
}

ssize_t tlsrec_push(struct tlsrec *r, int fd, const void *buf, size_t len)
{
    size_t sent = 0;
    if (r->wb_off == r->wb_len) {
        ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);
        if (n < 0 && errno != EAGAIN && errno != EINTR)
            return -1;
        sent = n > 0 ? (size_t)n : 0;
    }
    if (sent < len)
        wb_add(r, (const char *)buf + sent, len - sent);
    return (ssize_t)len;
}
