/* fuzz_har: the HAR import (src/import_har.c), as POST /v1/import/har and
 * `stampede import har` take it. Input: a HAR document; a first line
 * starting with '#' gives the host filter ("#api.example.com"). Oracle:
 * fuzz_import.h, as for the cURL import. */
#include "fuzz_import.h"

#include "import_har.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *host = NULL;
    if (size > 0 && data[0] == '#') {
        size_t n;
        const uint8_t *rest = fuzz_first_line(data, size, &n);
        host = fuzz_cstr(data + 1, n - 1);
        if (rest) {
            size -= (size_t)(rest - data);
            data = rest;
        } else {
            size = 0;
        }
    }
    struct import_result out;
    struct json_err e = { "", "" };
    int rc = import_har((const char *)data, size, host, size & 1 ? IMPORT_PRETTY : 0, &out, &e);
    fuzz_check_import(rc, &out, &e);
    free(host);
    return 0;
}
