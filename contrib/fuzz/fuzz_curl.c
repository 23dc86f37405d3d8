/* fuzz_curl: the cURL import (src/import_curl.c with the bash and cmd.exe
 * word splitting of src/import_shell.c), as POST /v1/import/curl and
 * `stampede import curl` take it. Input: a pasted command line; if it
 * holds NUL bytes, the NUL-separated words a shell already split
 * (import_curl_argv). Oracle: fuzz_import.h — an accepted import is a
 * script script_parse accepts, with UTF-8 notes; a refused one says why
 * and never blames the importer. */
#include "fuzz_import.h"

#include "import_curl.h"
#include "import_shell.h"

#define MAX_WORDS 256

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct import_result out;
    struct json_err e = { "", "" };
    unsigned flags = size & 1 ? IMPORT_PRETTY : 0;
    if (!memchr(data, '\0', size)) {
        char *text = fuzz_cstr(data, size);
        int rc = import_curl(text, flags, &out, &e);
        fuzz_check_import(rc, &out, &e);

        /* the splitter alone, as import_curl uses it */
        struct import_def *d = import_def_new();
        struct import_words w = { 0 };
        char err[256] = "";
        rc = import_shell_split(text, d, &w, err, sizeof err);
        FUZZ_CHECK(rc == 0 || (rc == -1 && err[0] != '\0'));
        for (int i = 0; i < w.n; i++)
            FUZZ_CHECK(w.v[i] != NULL);
        import_words_deinit(&w);
        FUZZ_CHECK(w.n == 0 && w.v == NULL);
        import_def_free(d);
        free(text);
        return 0;
    }
    /* argv: NUL-separated words; the copy ends with a NUL of its own */
    char *copy = fuzz_cstr(data, size);
    const char *argv[MAX_WORDS];
    int argc = 0;
    for (size_t i = 0; i <= size && argc < MAX_WORDS;) {
        argv[argc++] = copy + i;
        i += strlen(copy + i) + 1;
    }
    int rc = import_curl_argv(argc, argv, flags, &out, &e);
    fuzz_check_import(rc, &out, &e);
    free(copy);
    return 0;
}
