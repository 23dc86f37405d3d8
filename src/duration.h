/* duration: parsing of human durations and sizes used in scripts and config.
 * Durations: "500ms", "10s", "2m", "1h", "1m30s", "1.5s", "250us"; a bare
 * "0" is zero. Sizes: "1048576", "512k", "1M", "1MiB", "2g". */
#ifndef STAMPEDE_DURATION_H
#define STAMPEDE_DURATION_H

#include <stddef.h>
#include <stdint.h>

/* 0 on success (*out in microseconds), -1 if s is not a duration. */
int duration_parse(const char *s, uint64_t *out_us);
/* Format like "1m30s", "250ms", "1.5s" into buf; returns buf. Exact
 * digits: duration_parse reads the text back as us (to the microsecond
 * below 2^50 us, 35 years). 32 bytes are always enough. */
char *duration_format(uint64_t us, char *buf, size_t len);
/* 0 on success (*out in bytes), -1 if s is not a size. */
int size_parse(const char *s, uint64_t *out_bytes);

#endif
