/* hex: hexadecimal digits both ways, for byte strings in text (stored
 * histograms, list cursors, escapes in imported commands). */
#ifndef STAMPEDE_HEX_H
#define STAMPEDE_HEX_H

#include <stddef.h>
#include <stdint.h>

/* The value of a hex digit (either case), or -1. */
static inline int hex_digit(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Write in[0..n) as 2n lower-case digits and a NUL into out (2n+1 bytes). */
static inline void hex_encode(const uint8_t *in, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * n] = '\0';
}

/* Decode 2n digits of in into out[0..n); -1 on a non-digit. */
static inline int hex_decode(const char *in, size_t n, uint8_t *out)
{
    for (size_t i = 0; i < n; i++) {
        int hi = hex_digit(in[2 * i]), lo = hex_digit(in[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return -1;
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return 0;
}

#endif
