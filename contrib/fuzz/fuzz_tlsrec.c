/* fuzz_tlsrec: the TLS 1.3 records tlsrec opens (src/tlsrec.c), from a
 * GnuTLS server set up once (tests/tls_pair.h; AES-128-GCM).
 * Input: a mode byte, two bytes of a position, then the rest.
 * - mode bit 0 clear: the rest is messages, each a length byte (times 16;
 *   255: 16,384 bytes) and that many bytes (cycled from the input),
 *   which the server sends as records; the ciphertext reaches tlsrec in
 *   pieces of random sizes through the socket. Bit 1 set: one byte at the
 *   position is changed on the way. Oracle: unchanged, exactly the bytes
 *   sent come out and nothing else is reported; changed, what came out is
 *   a prefix of them and the read ends in EBADMSG, a record for GnuTLS
 *   (TLSREC_OTHER) or waiting for more (a bigger length).
 * - mode bit 0 set: the rest are raw bytes posing as records: nothing may
 *   come out (a forged tag passes once in 2^128), no crash, no read past
 *   what was given.
 * Sequence numbers start again at 0 each input on both sides. */
#include "fuzz.h"

#include "tlsrec.h"

#include <errno.h>

#define TLS_PAIR_CHECK(cond, what)                                                            \
    do {                                                                                      \
        if (!(cond)) {                                                                        \
            fprintf(stderr, "fuzz_tlsrec setup: %s\n", what);                                 \
            abort();                                                                          \
        }                                                                                     \
    } while (0)
#include "../../tests/tls_pair.h"

#define RAW_MAX (1 << 18)
#define SENT_MAX (20 * 1024) /* plaintext per input: a whole record and more */

static struct tls_pair pair;
static struct tlsrec *rec;
static char ra_buf[TLSREC_MAX];
static char raw[RAW_MAX], sent[RAW_MAX], got[RAW_MAX], plain[TLSREC_PLAIN_MAX];

static void setup(void)
{
    if (rec)
        return;
    tls_pair_open(&pair, "NORMAL:-VERS-ALL:+VERS-TLS1.3:-CIPHER-ALL:+AES-128-GCM");
    rec = tlsrec_new(pair.cli);
    TLS_PAIR_CHECK(rec != NULL, "tlsrec_new");
}

/* Both sides at sequence number 0; nothing left in the socket. */
static void restart(struct tlsrec_ra *ra)
{
    static const unsigned char zero[8];
    TLS_PAIR_CHECK(gnutls_record_set_state(pair.srv, 0, zero) == 0, "server sequence");
    TLS_PAIR_CHECK(gnutls_record_set_state(pair.cli, 1, zero) == 0, "client sequence");
    TLS_PAIR_CHECK(tlsrec_import(rec, pair.cli) == 0, "import");
    while (recv(pair.fd[0], raw, sizeof raw, 0) > 0)
        ;
    ra->buf = ra_buf;
    ra->off = ra->len = 0;
}

/* Feed raw[0..n) to tlsrec through the socket in random pieces; what it
 * opens goes to got. Returns how it ended: TLSREC_AGAIN when all was
 * given and it waits for more, else the first other result. */
static ssize_t feed(struct tlsrec_ra *ra, size_t n, uint64_t *rng, size_t *have)
{
    size_t off = 0;
    *have = 0;
    for (;;) {
        ssize_t r;
        while ((r = tlsrec_read(rec, pair.fd[0], ra, plain, sizeof plain)) > 0) {
            FUZZ_CHECK(*have + (size_t)r <= sizeof got);
            memcpy(got + *have, plain, (size_t)r);
            *have += (size_t)r;
        }
        if (r != TLSREC_AGAIN || off == n)
            return r;
        size_t piece = 1 + fuzz_rand(rng) % 20000;
        if (piece > n - off)
            piece = n - off;
        FUZZ_CHECK(send(pair.fd[1], raw + off, piece, 0) == (ssize_t)piece);
        off += piece;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    setup();
    if (size < 3)
        return 0;
    struct tlsrec_ra ra;
    restart(&ra);
    uint8_t mode = data[0];
    size_t pos = (size_t)data[1] << 8 | data[2];
    data += 3;
    size -= 3;
    uint64_t rng = fuzz_fnv(FUZZ_FNV_INIT, data, size);
    size_t have = 0;

    if (mode & 1) {
        size_t n = size < RAW_MAX ? size : RAW_MAX;
        memcpy(raw, data, n);
        ssize_t r = feed(&ra, n, &rng, &have);
        FUZZ_CHECK(have == 0);
        FUZZ_CHECK(r == TLSREC_AGAIN || r == TLSREC_OTHER || (r == TLSREC_ERR && errno == EBADMSG));
        return 0;
    }

    /* the server's records: the messages, as GnuTLS sends them */
    size_t nsent = 0, nraw = 0;
    for (size_t i = 0; i < size;) {
        /* a length byte: 16 bytes a step, 255 a record of the most a
         * record may hold */
        size_t len = data[i] == 255 ? 16384 : (size_t)data[i] * 16;
        i++;
        if (len == 0 || nsent + len > SENT_MAX)
            continue;
        for (size_t k = 0; k < len;) { /* the input from i on, cycled */
            size_t from = (i + k) % size, take = size - from < len - k ? size - from : len - k;
            memcpy(sent + nsent + k, data + from, take);
            k += take;
        }
        for (size_t off = 0; off < len;) {
            ssize_t w = gnutls_record_send(pair.srv, sent + nsent + off, len - off);
            FUZZ_CHECK(w > 0);
            off += (size_t)w;
        }
        nsent += len;
        i += len < 8 ? len : 8;
        ssize_t got_raw;
        while ((got_raw = recv(pair.fd[0], raw + nraw, sizeof raw - nraw, 0)) > 0)
            nraw += (size_t)got_raw;
    }
    int changed = (mode & 2) && nraw > 0;
    if (changed)
        raw[pos % nraw] ^= (char)((mode >> 2) | 1);
    ssize_t r = feed(&ra, nraw, &rng, &have);
    FUZZ_CHECK(have <= nsent && memcmp(got, sent, have) == 0);
    if (!changed) {
        FUZZ_CHECK(have == nsent);
        FUZZ_CHECK(r == TLSREC_AGAIN && ra.off == ra.len);
    } else {
        FUZZ_CHECK(r == TLSREC_AGAIN || r == TLSREC_OTHER || (r == TLSREC_ERR && errno == EBADMSG));
    }
    return 0;
}
