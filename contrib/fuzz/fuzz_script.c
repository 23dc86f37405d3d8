/* fuzz_script: the script validator (script_parse in src/script.c), which
 * `stampede run`, the REST API and every importer trust. Input: a script
 * definition, JSON. Oracle: an accepted script holds what script.h
 * promises (steps, origins, targets, headers, load, thresholds); a refused
 * one says why. */
#include "fuzz.h"

#include "script.h"

#include <math.h>

static void check_script(const struct script *s)
{
    FUZZ_CHECK(s->nsteps >= 1 && s->nsteps <= 64 && s->steps != NULL);
    FUZZ_CHECK(s->norigins >= 1 && s->origins != NULL);
    for (int i = 0; i < s->norigins; i++) {
        const struct script_origin *o = &s->origins[i];
        FUZZ_CHECK(o->host && *o->host && o->authority && *o->authority && o->port > 0);
    }
    for (int i = 0; i < s->nsteps; i++) {
        const struct script_step *st = &s->steps[i];
        FUZZ_CHECK(st->name && *st->name && strlen(st->name) <= 64);
        for (int j = 0; j < i; j++)
            FUZZ_CHECK(strcmp(s->steps[j].name, st->name) != 0);
        FUZZ_CHECK(st->method && *st->method);
        FUZZ_CHECK(st->origin >= 0 && st->origin < s->norigins);
        FUZZ_CHECK(st->target && st->target[0] == '/');
        for (const char *c = st->target; *c; c++)
            FUZZ_CHECK((unsigned char)*c > 0x20 && (unsigned char)*c < 0x7f);
        FUZZ_CHECK(st->nheaders >= 0 && st->nheaders <= 65);
        for (int h = 0; h < st->nheaders; h++) {
            FUZZ_CHECK(st->headers[h].name && *st->headers[h].name && st->headers[h].value);
            FUZZ_CHECK(!strpbrk(st->headers[h].value, "\r\n"));
        }
        FUZZ_CHECK(st->body ? st->body_len == strlen(st->body) : st->body_len == 0);
        FUZZ_CHECK(st->timeout_us > 0);
        FUZZ_CHECK(st->checks.status == 0 || (st->checks.status >= 100 && st->checks.status <= 599));
        FUZZ_CHECK(st->checks.status_class >= 0 && st->checks.status_class <= 5);
    }
    const struct script_load *l = &s->load;
    FUZZ_CHECK(strcmp(script_executor_name(l->executor), "unknown") != 0);
    uint64_t total = script_load_duration_us(l);
    FUZZ_CHECK(total > 0);
    FUZZ_CHECK(l->warmup_us < total || l->warmup_us == 0);
    if (script_load_is_open(l)) {
        FUZZ_CHECK(l->pre_allocated_vus >= 1 && l->max_vus >= l->pre_allocated_vus);
        FUZZ_CHECK(l->time_unit_us > 0);
    }
    for (int i = 0; i < l->nstages; i++)
        FUZZ_CHECK(isfinite(l->stages[i].target) && l->stages[i].target >= 0);
    FUZZ_CHECK(isfinite(l->rate) && l->rate >= 0 && l->rate <= SCRIPT_MAX_RATE);
    FUZZ_CHECK(l->vus >= 0 && l->vus <= SCRIPT_MAX_VUS);
    for (int i = 0; i < s->nthresholds; i++) {
        const struct threshold *t = &s->thresholds[i];
        FUZZ_CHECK(t->step >= -1 && t->step < s->nsteps);
        FUZZ_CHECK(t->metric_text && t->expr_text);
        FUZZ_CHECK(isfinite(t->value));
        FUZZ_CHECK(t->agg != TA_P || (t->p > 0 && t->p <= 100));
        (void)threshold_holds(t, t->value);
        (void)threshold_holds(t, NAN);
    }
    FUZZ_CHECK(s->user_agent && *s->user_agent);
    FUZZ_CHECK(s->backoff.max_us >= s->backoff.min_us);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct script *s = (struct script *)1;
    struct json_err e = { "", "" };
    int rc = script_parse((const char *)data, size, &s, &e);
    if (rc < 0) {
        FUZZ_CHECK(s == NULL);
        FUZZ_CHECK(e.message[0] != '\0');
        return 0;
    }
    FUZZ_CHECK(rc == 0 && s != NULL);
    check_script(s);
    script_free(s);
    return 0;
}
