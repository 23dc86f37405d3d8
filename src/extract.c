/* extract: compiling extractors and running them on a captured response. */
#include "extract.h"

#include "xmalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_REGEX 1024

int extract_compile(struct extractor *x, yajl_val v, const char *field, struct json_err *e)
{
    memset(x, 0, sizeof *x);
    x->var = -1;
    if (!YAJL_IS_OBJECT(v))
        return json_fail(e, field, "expected an object like {\"jsonpath\": \"$.token\"}, got %s", json_type_name(v));
    static const char *const keys[] = { "jsonpath", "regex", "header", NULL };
    for (size_t i = 0; i < v->u.object.len; i++) {
        int known = 0;
        for (const char *const *k = keys; *k && !known; k++)
            known = strcmp(*k, v->u.object.keys[i]) == 0;
        if (!known) {
            char p[256];
            return json_fail(e, json_path(p, sizeof p, field, v->u.object.keys[i]),
                             "unknown field (expected jsonpath, regex, header)");
        }
    }
    const char *jp = NULL, *re = NULL, *hdr = NULL;
    if (json_get_string(v, field, "jsonpath", 0, &jp, e) < 0 || json_get_string(v, field, "regex", 0, &re, e) < 0 ||
        json_get_string(v, field, "header", 0, &hdr, e) < 0)
        return -1;
    char p[256], err[200];
    if (jp && (re || hdr))
        return json_fail(e, field, "give jsonpath alone, or regex (on the body or a header), or header");
    if (!jp && !re && !hdr)
        return json_fail(e, field, "give jsonpath, regex or header");
    if (jp) {
        x->src = EXTRACT_JSONPATH;
        if (jsonpath_compile(jp, &x->jp, err, sizeof err) < 0)
            return json_fail(e, json_path(p, sizeof p, field, "jsonpath"), "%s", err);
        return 0;
    }
    if (hdr) {
        if (!*hdr)
            return json_fail(e, json_path(p, sizeof p, field, "header"), "must not be empty");
        x->src = EXTRACT_HEADER;
        x->header = xstrdup(hdr);
    } else {
        x->src = EXTRACT_BODY_REGEX;
    }
    if (re) {
        json_path(p, sizeof p, field, "regex");
        if (strlen(re) > MAX_REGEX)
            return json_fail(e, p, "longer than %d characters", MAX_REGEX);
        int code;
        PCRE2_SIZE off;
        x->re = pcre2_compile((PCRE2_SPTR)re, PCRE2_ZERO_TERMINATED, PCRE2_UTF | PCRE2_MATCH_INVALID_UTF, &code,
                              &off, NULL);
        if (!x->re) {
            pcre2_get_error_message(code, (PCRE2_UCHAR *)err, sizeof err);
            return json_fail(e, p, "not a valid regex at character %zu: %s", (size_t)off + 1, err);
        }
        uint32_t groups = 0;
        pcre2_pattern_info(x->re, PCRE2_INFO_CAPTURECOUNT, &groups);
        if (groups != 1)
            return json_fail(e, p, "needs exactly one capture group ( ... ), it has %u", groups);
        pcre2_jit_compile(x->re, PCRE2_JIT_COMPLETE); /* faster when the JIT is there; fine without */
    }
    return 0;
}

void extract_free(struct extractor *x)
{
    jsonpath_free(&x->jp);
    pcre2_code_free(x->re);
    free(x->header);
    memset(x, 0, sizeof *x);
}

pcre2_match_data *extract_match_data(void)
{
    pcre2_match_data *md = pcre2_match_data_create(2, NULL);
    if (!md)
        abort(); /* out of memory, as xmalloc would */
    return md;
}

/* The text of group 1 of x->re in s..s+n. */
static int regex_group(const struct extractor *x, const char *s, size_t n, pcre2_match_data *md,
                       struct sbuf *out)
{
    if (pcre2_match(x->re, (PCRE2_SPTR)s, n, 0, 0, md, NULL) < 2)
        return -1;
    PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
    if (ov[2] == PCRE2_UNSET)
        return -1;
    sbuf_add(out, s + ov[2], ov[3] - ov[2]);
    return 0;
}

int extract_run(const struct extractor *x, const struct extract_response *r, pcre2_match_data *md,
                struct sbuf *out)
{
    switch (x->src) {
    case EXTRACT_JSONPATH:
        return jsonpath_find(&x->jp, r->body ? r->body : "", r->body_len, out) == JSONPATH_FOUND ? 0 : -1;
    case EXTRACT_BODY_REGEX:
        return regex_group(x, r->body ? r->body : "", r->body_len, md, out);
    case EXTRACT_HEADER: {
        /* each "name: value\n" line; the first that matches wins (a regex
         * is tried on every header of that name, Set-Cookie comes many) */
        size_t hl = strlen(x->header);
        const char *p = r->headers ? r->headers : "", *end = p + r->headers_len;
        while (p < end) {
            const char *nl = memchr(p, '\n', (size_t)(end - p));
            if (!nl)
                nl = end;
            if ((size_t)(nl - p) >= hl + 1 && p[hl] == ':' && strncasecmp(p, x->header, hl) == 0) {
                const char *val = p + hl + 1;
                while (val < nl && *val == ' ')
                    val++;
                if (!x->re) {
                    sbuf_add(out, val, (size_t)(nl - val));
                    return 0;
                }
                if (regex_group(x, val, (size_t)(nl - val), md, out) == 0)
                    return 0;
            }
            p = nl + 1;
        }
        return -1;
    }
    }
    return -1;
}
