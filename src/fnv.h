/* fnv: FNV-1a, 64 bits — a fast hash for checksums and de-duplication,
 * not for anything an attacker chooses to collide. */
#ifndef STAMPEDE_FNV_H
#define STAMPEDE_FNV_H

#include <stddef.h>
#include <stdint.h>

#define FNV1A_INIT 14695981039346656037ull

/* Continue hash h over n bytes at p (start with FNV1A_INIT). */
static inline uint64_t fnv1a(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= 1099511628211ull;
    }
    return h;
}

#endif
