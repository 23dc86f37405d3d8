/* cli_import: `stampede import curl COMMAND` and `stampede import har FILE`:
 * print a script definition made from a curl command or a HAR recording
 * (docs/import.md). The definition goes to stdout, so it can be redirected
 * into a file; notes about what was dropped or approximated go to stderr. */
#include "cli_import.h"

#include "import_curl.h"
#include "import_har.h"
#include "xmalloc.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_COMMAND_BYTES (1u << 20)
#define MAX_HAR_BYTES (256u << 20)

static void usage(FILE *out)
{
    fprintf(out,
            "usage: stampede import curl 'curl [options] URL'\n"
            "       stampede import curl [curl] [options] URL\n"
            "       stampede import curl -              (the command on stdin)\n"
            "       stampede import har FILE [--host HOST]   (FILE may be - for stdin)\n\n"
            "Prints a script definition (JSON) on stdout and notes about anything dropped\n"
            "or approximated on stderr. The curl command is read as bash would split it, or\n"
            "as cmd.exe would for Chrome's \"Copy as cURL (cmd)\". A HAR file gives one step\n"
            "per request; --host keeps only the requests to that host.\n\n"
            "exit codes: 0 ok, 2 bad input or arguments, 1 a file that cannot be read\n"
            "See docs/import.md.\n");
}

/* All of f, NUL-terminated, up to max bytes. NULL with errno set on a read
 * error (EFBIG when larger than max). Caller frees. */
static char *read_all(FILE *f, size_t max, size_t *len)
{
    size_t cap = 65536, n = 0, r;
    char *buf = xmalloc(cap + 1);
    while ((r = fread(buf + n, 1, cap - n, f)) > 0) {
        n += r;
        if (n == cap) {
            if (cap >= max) {
                free(buf);
                errno = EFBIG;
                return NULL;
            }
            cap *= 2;
            buf = xrealloc(buf, cap + 1);
        }
    }
    if (ferror(f)) {
        free(buf);
        errno = EIO;
        return NULL;
    }
    buf[n] = '\0';
    *len = n;
    return buf;
}

static int print_result(struct import_result *r)
{
    fputs(r->definition, stdout);
    if (r->definition_len == 0 || r->definition[r->definition_len - 1] != '\n')
        fputc('\n', stdout);
    for (size_t i = 0; i < r->nnotes; i++)
        fprintf(stderr, "note: %s\n", r->notes[i]);
    import_result_deinit(r);
    if (fflush(stdout) != 0) {
        fprintf(stderr, "stampede import: cannot write the definition: %s\n", strerror(errno));
        return 1;
    }
    return 0;
}

/* One argument holding a whole command line ("curl -X POST ...") is split
 * here; several arguments were split by the user's shell already. */
static int one_command_line(const char *a)
{
    if (strncmp(a, "curl", 4) == 0 && (!a[4] || isspace((unsigned char)a[4]) || a[4] == '.'))
        return 1;
    for (const char *c = a; *c; c++)
        if (isspace((unsigned char)*c))
            return 1;
    return 0;
}

static int import_curl_cmd(int argc, char **argv)
{
    if (argc == 0) {
        fprintf(stderr, "stampede import curl: give the curl command (in quotes), or - to read "
                        "it from stdin\n");
        return 2;
    }
    if (argc == 1 && (!strcmp(argv[0], "-h") || !strcmp(argv[0], "--help"))) {
        usage(stdout);
        return 0;
    }
    struct import_result r;
    struct json_err e = { "", "" };
    int rc;
    if (argc == 1 && strcmp(argv[0], "-") == 0) {
        size_t len = 0;
        char *text = read_all(stdin, MAX_COMMAND_BYTES, &len);
        if (!text) {
            fprintf(stderr, "stampede import curl: cannot read stdin: %s\n", strerror(errno));
            return 1;
        }
        if (strlen(text) != len) {
            fprintf(stderr, "stampede import curl: stdin holds a NUL byte\n");
            free(text);
            return 2;
        }
        rc = import_curl(text, IMPORT_PRETTY, &r, &e);
        free(text);
    } else if (argc == 1 && one_command_line(argv[0])) {
        rc = import_curl(argv[0], IMPORT_PRETTY, &r, &e);
    } else {
        rc = import_curl_argv(argc, (const char *const *)argv, IMPORT_PRETTY, &r, &e);
    }
    if (rc < 0) {
        fprintf(stderr, "stampede import curl: %s\n", e.message);
        return 2;
    }
    return print_result(&r);
}

static int import_har_cmd(int argc, char **argv)
{
    const char *file = NULL, *host = NULL;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "--host")) {
            if (i + 1 >= argc) {
                fprintf(stderr, "stampede import har: --host: missing value\n");
                return 2;
            }
            host = argv[++i];
        } else if (!strncmp(a, "--host=", 7)) {
            host = a + 7;
        } else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "stampede import har: unknown option '%s'\n", a);
            return 2;
        } else if (file) {
            fprintf(stderr, "stampede import har: unexpected argument '%s' (one HAR file only)\n",
                    a);
            return 2;
        } else {
            file = a;
        }
    }
    if (!file) {
        fprintf(stderr, "stampede import har: give a HAR FILE (or - for stdin)\n");
        return 2;
    }
    if (host && !*host) {
        fprintf(stderr, "stampede import har: --host: must not be empty\n");
        return 2;
    }
    int from_stdin = strcmp(file, "-") == 0;
    FILE *f = from_stdin ? stdin : fopen(file, "rb");
    if (!f) {
        fprintf(stderr, "stampede import har: cannot open %s: %s\n", file, strerror(errno));
        return 1;
    }
    size_t len = 0;
    char *text = read_all(f, MAX_HAR_BYTES, &len);
    int saved = errno;
    if (!from_stdin)
        fclose(f);
    if (!text) {
        fprintf(stderr, "stampede import har: cannot read %s: %s\n", file, strerror(saved));
        return 1;
    }
    struct import_result r;
    struct json_err e = { "", "" };
    int rc = import_har(text, len, host, IMPORT_PRETTY, &r, &e);
    free(text);
    if (rc < 0) {
        fprintf(stderr, "stampede import har: %s: %s\n", file, e.message);
        return 2;
    }
    return print_result(&r);
}

int cli_import_main(int argc, char **argv)
{
    if (argc == 0) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[0], "-h") || !strcmp(argv[0], "--help") || !strcmp(argv[0], "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(argv[0], "curl"))
        return import_curl_cmd(argc - 1, argv + 1);
    if (!strcmp(argv[0], "har"))
        return import_har_cmd(argc - 1, argv + 1);
    fprintf(stderr, "stampede import: unknown source '%s' (curl or har)\n\n", argv[0]);
    usage(stderr);
    return 2;
}
