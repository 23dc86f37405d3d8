/* idmap: a map from non-zero 64-bit ids to pointers (open addressing,
 * linear probing, backward-shift deletion: no tombstones). Not thread-safe:
 * one owner. Values are borrowed. */
#ifndef STAMPEDE_IDMAP_H
#define STAMPEDE_IDMAP_H

#include <stddef.h>
#include <stdint.h>

struct idmap {
    uint64_t *keys; /* 0 = empty slot */
    void **vals;
    size_t cap;     /* power of two */
    size_t len;
};

void idmap_init(struct idmap *m);
void idmap_deinit(struct idmap *m);
/* Insert or replace; key must not be 0. */
void idmap_put(struct idmap *m, uint64_t key, void *val);
void *idmap_get(const struct idmap *m, uint64_t key);
/* Remove and return the value, or NULL if absent. */
void *idmap_del(struct idmap *m, uint64_t key);
/* Iterate: start with *pos = 0; returns 0 at the end. Do not insert while
 * iterating; deleting the current key is allowed only via idmap_del after
 * the loop. */
int idmap_next(const struct idmap *m, size_t *pos, uint64_t *key, void **val);

#endif
