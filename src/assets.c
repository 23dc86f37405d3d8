/* assets: a folder read into memory for serving. */
#include "assets.h"

#include "xmalloc.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define MAX_DEPTH 4

struct assets {
    struct asset *items;
    size_t n, cap, bytes;
};

static const char *type_of(const char *path)
{
    static const struct {
        const char *ext, *type;
    } types[] = {
        { ".html", "text/html; charset=utf-8" },  { ".js", "text/javascript; charset=utf-8" },
        { ".mjs", "text/javascript; charset=utf-8" }, { ".css", "text/css; charset=utf-8" },
        { ".json", "application/json" },           { ".svg", "image/svg+xml" },
        { ".png", "image/png" },                   { ".ico", "image/x-icon" },
        { ".txt", "text/plain; charset=utf-8" },
    };
    const char *dot = strrchr(path, '.');
    for (size_t i = 0; dot && i < sizeof types / sizeof types[0]; i++)
        if (strcmp(dot, types[i].ext) == 0)
            return types[i].type;
    return "application/octet-stream";
}

static int add_file(struct assets *a, const char *full, const char *rel, char *err, size_t errlen)
{
    FILE *f = fopen(full, "rb");
    if (!f) {
        snprintf(err, errlen, "%s: %s", full, strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fileno(f), &st) < 0 || a->bytes + (size_t)st.st_size > ASSETS_MAX_BYTES) {
        snprintf(err, errlen, "%s: too large (the dashboard may hold %u MiB)", full, ASSETS_MAX_BYTES >> 20);
        fclose(f);
        return -1;
    }
    char *data = xmalloc((size_t)st.st_size + 1);
    size_t n = fread(data, 1, (size_t)st.st_size, f);
    fclose(f);
    if (n != (size_t)st.st_size) {
        snprintf(err, errlen, "%s: short read", full);
        free(data);
        return -1;
    }
    if (a->n == a->cap) {
        a->cap = a->cap ? 2 * a->cap : 16;
        a->items = xrealloc(a->items, a->cap * sizeof *a->items);
    }
    a->items[a->n++] = (struct asset){ xstrdup(rel), type_of(rel), data, n };
    a->bytes += n;
    return 0;
}

static int walk(struct assets *a, const char *dir, const char *rel, int depth, char *err, size_t errlen)
{
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    struct dirent *e;
    int rc = 0;
    while (rc == 0 && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.' || strcmp(e->d_name, "node_modules") == 0)
            continue;
        char full[1024], sub[512];
        snprintf(full, sizeof full, "%s/%s", dir, e->d_name);
        snprintf(sub, sizeof sub, "%s%s%s", rel, rel[0] ? "/" : "", e->d_name);
        struct stat st;
        if (stat(full, &st) < 0)
            continue;
        if (S_ISDIR(st.st_mode) && depth < MAX_DEPTH)
            rc = walk(a, full, sub, depth + 1, err, errlen);
        else if (S_ISREG(st.st_mode))
            rc = add_file(a, full, sub, err, errlen);
    }
    closedir(d);
    return rc;
}

struct assets *assets_load(const char *dir, char *err, size_t errlen)
{
    struct assets *a = xcalloc(1, sizeof *a);
    if (!dir || !*dir)
        return a;
    if (walk(a, dir, "", 0, err, errlen) < 0) {
        assets_free(a);
        return NULL;
    }
    static const char *const vendor[] = { "uPlot.iife.min.js", "uPlot.min.css" };
    for (size_t i = 0; i < sizeof vendor / sizeof vendor[0]; i++) {
        char full[1024], rel[128];
        snprintf(full, sizeof full, "%s/node_modules/uplot/dist/%s", dir, vendor[i]);
        snprintf(rel, sizeof rel, "vendor/%s", vendor[i]);
        struct stat st;
        if (stat(full, &st) == 0 && add_file(a, full, rel, err, errlen) < 0) {
            assets_free(a);
            return NULL;
        }
    }
    return a;
}

const struct asset *assets_get(const struct assets *a, const char *path)
{
    for (size_t i = 0; a && i < a->n; i++)
        if (strcmp(a->items[i].path, path) == 0)
            return &a->items[i];
    return NULL;
}

size_t assets_count(const struct assets *a)
{
    return a ? a->n : 0;
}

void assets_free(struct assets *a)
{
    if (!a)
        return;
    for (size_t i = 0; i < a->n; i++) {
        free(a->items[i].path);
        free(a->items[i].data);
    }
    free(a->items);
    free(a);
}
