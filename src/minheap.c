/* minheap: array-backed binary heap. */
#include "minheap.h"

#include "xmalloc.h"

#include <stdlib.h>

void minheap_init(struct minheap *h)
{
    h->a = NULL;
    h->n = h->cap = 0;
}

void minheap_deinit(struct minheap *h)
{
    free(h->a);
    minheap_init(h);
}

static void swap(struct minheap_ent *x, struct minheap_ent *y)
{
    struct minheap_ent t = *x;
    *x = *y;
    *y = t;
}

void minheap_push(struct minheap *h, int64_t key, void *val, uint64_t tag)
{
    if (h->n == h->cap) {
        h->cap = h->cap ? h->cap * 2 : 16;
        h->a = xrealloc(h->a, h->cap * sizeof *h->a);
    }
    size_t i = h->n++;
    h->a[i] = (struct minheap_ent){ key, val, tag };
    while (i > 0 && h->a[(i - 1) / 2].key > h->a[i].key) {
        swap(&h->a[(i - 1) / 2], &h->a[i]);
        i = (i - 1) / 2;
    }
}

const struct minheap_ent *minheap_top(const struct minheap *h)
{
    return h->n ? &h->a[0] : NULL;
}

int minheap_pop(struct minheap *h, struct minheap_ent *out)
{
    if (!h->n)
        return -1;
    *out = h->a[0];
    h->a[0] = h->a[--h->n];
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < h->n && h->a[l].key < h->a[m].key)
            m = l;
        if (r < h->n && h->a[r].key < h->a[m].key)
            m = r;
        if (m == i)
            break;
        swap(&h->a[i], &h->a[m]);
        i = m;
    }
    return 0;
}
