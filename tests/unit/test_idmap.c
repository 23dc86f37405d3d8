/* test_idmap: against a plain array model under random operations. */
#include "check_main.h"
#include "idmap.h"

#include <stdint.h>
#include <stdlib.h>

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint64_t next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

START_TEST(random_ops_match_model)
{
    enum { KEYS = 512 };
    void *model[KEYS + 1] = { 0 };
    struct idmap m;
    idmap_init(&m);
    size_t live = 0;
    for (int i = 0; i < 200000; i++) {
        uint64_t k = 1 + next() % KEYS;
        void *val = (void *)(uintptr_t)(next() | 1);
        switch (next() % 3) {
        case 0:
            if (!model[k])
                live++;
            model[k] = val;
            idmap_put(&m, k, val);
            break;
        case 1:
            ck_assert_ptr_eq(idmap_del(&m, k), model[k]);
            if (model[k])
                live--;
            model[k] = NULL;
            break;
        default:
            ck_assert_ptr_eq(idmap_get(&m, k), model[k]);
        }
        ck_assert_uint_eq(m.len, live);
    }
    size_t pos = 0, seen = 0;
    uint64_t k;
    void *v;
    while (idmap_next(&m, &pos, &k, &v)) {
        ck_assert_ptr_eq(model[k], v);
        seen++;
    }
    ck_assert_uint_eq(seen, live);
    ck_assert_ptr_null(idmap_get(&m, 0));
    idmap_deinit(&m);
}
END_TEST

static Suite *idmap_suite(void)
{
    Suite *s = suite_create("idmap");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, random_ops_match_model);
    suite_add_tcase(s, tc);
    return s;
}

CHECK_MAIN(idmap_suite)
