/* minheap: a binary min-heap of (key, value) pairs, keyed by int64.
 * Values are borrowed. Not thread-safe: one owner. */
#ifndef STAMPEDE_MINHEAP_H
#define STAMPEDE_MINHEAP_H

#include <stddef.h>
#include <stdint.h>

struct minheap_ent {
    int64_t key;
    void *val;
    uint64_t tag; /* the caller's: e.g. a generation, to skip stale entries */
};

struct minheap {
    struct minheap_ent *a;
    size_t n, cap;
};

void minheap_init(struct minheap *h);
void minheap_deinit(struct minheap *h);
void minheap_push(struct minheap *h, int64_t key, void *val, uint64_t tag);
/* The smallest entry, or NULL when empty (valid until the next change). */
const struct minheap_ent *minheap_top(const struct minheap *h);
/* Remove the smallest entry into *out; 0, or -1 when empty. */
int minheap_pop(struct minheap *h, struct minheap_ent *out);

#endif
