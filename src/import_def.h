/* import_def: the script definition the curl and HAR importers build.
 * An importer adds requests (method, absolute URL, headers, body); this
 * module applies the rules every import shares — headers Stampede sets
 * itself, duplicate headers, URL bytes a request line cannot carry, unique
 * step names — keeps a note of whatever it drops or approximates, and
 * writes a definition that script_parse accepts (it checks before it
 * returns). Single-threaded: one import_def belongs to one caller. */
#ifndef STAMPEDE_IMPORT_DEF_H
#define STAMPEDE_IMPORT_DEF_H

#include "sbuf.h"
#include "json.h"

#include <stddef.h>

#define IMPORT_MAX_STEPS 64   /* a script's limit (docs/script-format.md) */
#define IMPORT_MAX_HEADERS 64 /* per step, likewise */

/* ---- what an import returns ---- */

/* Flags for import_curl, import_har and import_def_finish. */
#define IMPORT_PRETTY 1u /* indent the definition for people to read */

struct import_result {
    char *definition;      /* the script definition, JSON, NUL-terminated */
    size_t definition_len;
    char **notes;          /* what was dropped or approximated, in order */
    size_t nnotes;
};

/* Free everything r holds and zero it (r itself is the caller's). A zeroed
 * result, and NULL, are no-ops. */
void import_result_deinit(struct import_result *r);

/* ---- text ---- */

/* Append s[0..n) percent-encoded the way curl's --data-urlencode does:
 * everything but A-Z a-z 0-9 - . _ ~ becomes %XX (a space is %20). */
void import_urlencode(struct sbuf *b, const char *s, size_t n);

/* 1 if s[0..n) is well-formed UTF-8 (a script is JSON, so text only). */
int import_utf8_valid(const char *s, size_t n);
/* Replace, in place, every byte of s that is not part of well-formed UTF-8
 * with '?': messages quote the input, and JSON carries text only. */
void import_utf8_scrub(char *s);

/* ---- building a definition ---- */

struct import_def;
struct import_request;

struct import_def *import_def_new(void);
/* Frees d and every request in it; NULL is a no-op. */
void import_def_free(struct import_def *d);

/* Add a note; a text already noted is not repeated. Past 32 notes, the
 * rest are only counted ("... and 5 more notes"). */
void import_def_note(struct import_def *d, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Accept any TLS certificate (insecure_skip_tls_verify). */
void import_def_insecure(struct import_def *d);
int import_def_nrequests(const struct import_def *d);

/* 1 if a script step can use this method (GET HEAD POST PUT PATCH DELETE
 * OPTIONS, any case). */
int import_method_supported(const char *method);

/* Add a request. method: one of GET HEAD POST PUT PATCH DELETE OPTIONS in
 * any case. url: absolute http(s) URL; a fragment is dropped, and spaces,
 * control bytes, non-ASCII bytes and a '%' that starts no %XX escape are
 * percent-encoded (with a note). Strings are copied. Returns the request,
 * owned by d, or NULL with err set ("URL ...: why", no field path) when the
 * URL or method cannot be used or d already holds IMPORT_MAX_STEPS. */
struct import_request *import_def_add(struct import_def *d, const char *method, const char *url,
                                      char *err, size_t errlen);

/* Add a header (strings copied; the value is trimmed of spaces and tabs).
 * Dropped with a note: Host, Content-Length, Transfer-Encoding and
 * Connection (Stampede sets them), the hop-by-hop Keep-Alive,
 * Proxy-Connection, TE and Upgrade, and HTTP/2 pseudo-headers (":path").
 * A name given again is joined to the first value with ", " ("; " for
 * Cookie), with a note. Returns 0 (added, joined or dropped), or -1 with
 * err set when the name is not a token, the value holds a control byte or
 * is not UTF-8, or the request already has IMPORT_MAX_HEADERS. */
int import_request_header(struct import_def *d, struct import_request *r, const char *name,
                          const char *value, char *err, size_t errlen);
/* The value of a header added so far (any case), or NULL; borrowed. */
const char *import_request_header_value(const struct import_request *r, const char *name);
/* Set the body (copied; "" is a body of length 0). -1 with err set if it is
 * not UTF-8 text or holds a NUL byte. */
int import_request_body(struct import_request *r, const char *body, size_t len, char *err,
                        size_t errlen);
/* The response timeout, a duration string ("2.5s"); copied. */
void import_request_timeout(struct import_request *r, const char *duration);

/* Write the definition: the first request's origin is `target`, requests
 * to it give a `path`, others a `url`; steps are named from method and
 * path ("get_users", then "get_users_2"), "request" when the path has no
 * word; load is one VU for 30 s. On success fills *out (release with
 * import_result_deinit), moves d's notes into it and returns 0. On failure
 * (no request, or the definition does not validate, which would be a bug
 * here) returns -1 with e set and *out zeroed. d stays the caller's. */
int import_def_finish(struct import_def *d, unsigned flags, struct import_result *out,
                      struct json_err *e);

#endif
