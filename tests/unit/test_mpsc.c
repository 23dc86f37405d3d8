/* test_mpsc: the intrusive MPSC queue, alone and under producer threads. */
#include "check_main.h"
#include "mpsc.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>

struct item {
    struct mpsc_node node;
    int producer;
    long seq;
};

START_TEST(fifo_single_thread)
{
    struct mpsc q;
    mpsc_init(&q);
    ck_assert_ptr_null(mpsc_pop(&q));
    struct item it[100];
    for (int i = 0; i < 100; i++) {
        it[i].seq = i;
        mpsc_push(&q, &it[i].node);
    }
    for (int i = 0; i < 100; i++) {
        struct item *x = (struct item *)mpsc_pop(&q);
        ck_assert_ptr_nonnull(x);
        ck_assert_int_eq(x->seq, i);
    }
    ck_assert_ptr_null(mpsc_pop(&q));
    /* reuse after draining (the sentinel node goes around again) */
    mpsc_push(&q, &it[7].node);
    ck_assert_ptr_eq(mpsc_pop(&q), &it[7].node);
    ck_assert_ptr_null(mpsc_pop(&q));
}
END_TEST

#define PRODUCERS 4
#define PER_PRODUCER 200000

struct shared {
    struct mpsc q;
    _Atomic long pushed;
    struct item *items[PRODUCERS];
};

static void *producer(void *arg)
{
    struct shared *s = arg;
    static _Atomic int next_id;
    int id = atomic_fetch_add(&next_id, 1);
    for (long i = 0; i < PER_PRODUCER; i++) {
        struct item *x = &s->items[id][i];
        x->producer = id;
        x->seq = i;
        mpsc_push(&s->q, &x->node);
        atomic_fetch_add(&s->pushed, 1);
    }
    return NULL;
}

START_TEST(many_producers_keep_order)
{
    struct shared *s = calloc(1, sizeof *s);
    mpsc_init(&s->q);
    for (int p = 0; p < PRODUCERS; p++)
        s->items[p] = calloc(PER_PRODUCER, sizeof(struct item));
    pthread_t th[PRODUCERS];
    for (int p = 0; p < PRODUCERS; p++)
        pthread_create(&th[p], NULL, producer, s);
    long next[PRODUCERS] = { 0 };
    long got = 0;
    while (got < (long)PRODUCERS * PER_PRODUCER) {
        struct item *x = (struct item *)mpsc_pop(&s->q);
        if (!x)
            continue; /* empty or a push half-done: look again */
        ck_assert_int_eq(x->seq, next[x->producer]);
        next[x->producer]++;
        got++;
    }
    for (int p = 0; p < PRODUCERS; p++) {
        pthread_join(th[p], NULL);
        ck_assert_int_eq(next[p], PER_PRODUCER);
        free(s->items[p]);
    }
    ck_assert_ptr_null(mpsc_pop(&s->q));
    free(s);
}
END_TEST

static Suite *mpsc_suite(void)
{
    Suite *s = suite_create("mpsc");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, fifo_single_thread);
    tcase_add_test(tc, many_producers_keep_order);
    suite_add_tcase(s, tc);
    return s;
}

CHECK_MAIN(mpsc_suite)
