/* assets: the dashboard's static files, read into memory once at start
 * (so serving them never touches the disk on a loop), with their content
 * types. Files of the folder and its subfolders (node_modules left out),
 * plus uPlot's two files from node_modules/uplot/dist as vendor/...;
 * at most ASSETS_MAX_BYTES in all. Immutable once loaded. */
#ifndef STAMPEDE_ASSETS_H
#define STAMPEDE_ASSETS_H

#include <stddef.h>

#define ASSETS_MAX_BYTES (16u << 20)

struct asset {
    char *path;          /* relative, '/'-separated: "index.html", "vendor/uPlot.iife.min.js" */
    const char *type;    /* Content-Type */
    char *data;
    size_t len;
};

struct assets;

/* Read dir. A missing dir gives an empty set (the server runs without a
 * dashboard); NULL with err only when the files cannot be read. */
struct assets *assets_load(const char *dir, char *err, size_t errlen);
/* The file at a relative path, or NULL. */
const struct asset *assets_get(const struct assets *a, const char *path);
size_t assets_count(const struct assets *a);
void assets_free(struct assets *a);

#endif
