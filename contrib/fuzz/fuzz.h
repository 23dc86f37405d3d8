/* fuzz.h: what every libFuzzer target in contrib/fuzz shares: the entry
 * point's prototype, a NUL-terminated copy of the input, a small
 * deterministic PRNG for choices made from the input, and FUZZ_CHECK, which
 * turns a broken invariant into a crash libFuzzer records. */
#ifndef STAMPEDE_FUZZ_H
#define STAMPEDE_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* An invariant of the code under test does not hold: report and abort, so
 * libFuzzer saves the input as a crash. */
#define FUZZ_CHECK(cond)                                                              \
    do {                                                                              \
        if (!(cond)) {                                                                \
            fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #cond); \
            abort();                                                                  \
        }                                                                             \
    } while (0)

/* data[0..size) as a new NUL-terminated string (embedded NULs end it
 * early, as they would for a C caller). Caller frees. */
static inline char *fuzz_cstr(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (!s)
        abort();
    if (size)
        memcpy(s, data, size);
    s[size] = '\0';
    return s;
}

/* xorshift64*: choices (piece sizes, instants) derived from the input, so
 * a saved crash replays exactly. Never seeded with 0. */
static inline uint64_t fuzz_rand(uint64_t *state)
{
    uint64_t x = *state ? *state : 0x9e3779b97f4a7c15ull;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return x * 0x2545f4914f6cdd1dull;
}

/* FNV-1a over n bytes, continuing from h (start with FUZZ_FNV_INIT). */
#define FUZZ_FNV_INIT 0xcbf29ce484222325ull
static inline uint64_t fuzz_fnv(uint64_t h, const void *p, size_t n)
{
    const unsigned char *s = p;
    for (size_t i = 0; i < n; i++) {
        h ^= s[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

/* Split off the first line of data: *line (not NUL-terminated) and *len;
 * returns the rest after the '\n', or NULL (and the whole input as the
 * line) when there is no '\n'. */
static inline const uint8_t *fuzz_first_line(const uint8_t *data, size_t size, size_t *len)
{
    const uint8_t *nl = memchr(data, '\n', size);
    *len = nl ? (size_t)(nl - data) : size;
    return nl ? nl + 1 : NULL;
}

#endif
