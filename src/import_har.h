/* import_har: a HAR 1.2 recording (browser devtools "Save all as HAR") turned
 * into a script definition with one step per recorded request, in order.
 *
 * Kept per entry: log.entries[].request's method, url, headers (less the
 * ones import_def drops: HTTP/2 pseudo-headers, Host, Content-Length, ...),
 * cookies (as the Cookie header when no Cookie header was recorded) and
 * postData.text (or postData.params, form-encoded). Skipped with a note:
 * entries that are not http(s) (data:, blob:, ws:) and methods a script
 * cannot send. A script holds at most IMPORT_MAX_STEPS steps: the first 64
 * requests are kept and the rest left out with a note saying how many. */
#ifndef STAMPEDE_IMPORT_HAR_H
#define STAMPEDE_IMPORT_HAR_H

#include "import_def.h"
#include "json.h"

#include <stddef.h>

/* har[0..len): the HAR document (borrowed). host: keep only entries whose
 * URL host equals it, ignoring case ("api.example.com", or with a port
 * as written in the URL, "api.example.com:8443"); NULL keeps all. flags:
 * IMPORT_PRETTY or 0. On success returns 0 and fills *out (release with
 * import_result_deinit). On failure returns -1 with *out zeroed and e
 * naming the field ("log.entries[3].request.url") and what is wrong. */
int import_har(const char *har, size_t len, const char *host, unsigned flags,
               struct import_result *out, struct json_err *e);

/* The same from a parsed tree (borrowed), as the REST API receives it.
 * path: the name of har in the caller's document ("har"), put in front of
 * every field path; "" for none. */
int import_har_tree(yajl_val har, const char *path, const char *host, unsigned flags,
                    struct import_result *out, struct json_err *e);

#endif
