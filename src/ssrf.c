/* ssrf: the address policy of outbound collection requests — tables of
 * refused ranges, the IPv4 address an IPv6 one may carry, and the
 * allow-list. */
#include "ssrf.h"

#include "xmalloc.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct range {
    uint8_t addr[16];
    int bits;
    const char *what;   /* "a loopback address" */
};

/* Checked in order: the first range that holds the address names it, so
 * the metadata addresses come before the link-local and unique-local
 * blocks that contain them. */
static const struct range v4_refused[] = {
    { { 169, 254, 169, 254 }, 32, "the cloud metadata address" },
    { { 0, 0, 0, 0 }, 8, "an unspecified (\"this network\") address" },
    { { 10, 0, 0, 0 }, 8, "a private (RFC 1918) address" },
    { { 100, 64, 0, 0 }, 10, "a shared (CGNAT, RFC 6598) address" },
    { { 127, 0, 0, 0 }, 8, "a loopback address" },
    { { 169, 254, 0, 0 }, 16, "a link-local address" },
    { { 172, 16, 0, 0 }, 12, "a private (RFC 1918) address" },
    { { 192, 0, 0, 0 }, 24, "an IETF special-purpose address" },
    { { 192, 168, 0, 0 }, 16, "a private (RFC 1918) address" },
    { { 198, 18, 0, 0 }, 15, "a benchmarking (RFC 2544) address" },
    { { 224, 0, 0, 0 }, 4, "a multicast address" },
    { { 240, 0, 0, 0 }, 4, "a reserved or broadcast address" },
};

static const struct range v6_refused[] = {
    { { 0xfd, 0x00, 0x0e, 0xc2, [14] = 0x02, [15] = 0x54 }, 128, "the cloud metadata address" }, /* fd00:ec2::254 */
    { { 0 }, 128, "the unspecified address" },
    { { [15] = 1 }, 128, "a loopback address" },
    { { 0x00, 0x64, 0xff, 0x9b, 0x00, 0x01 }, 48, "a local-use NAT64 address" },
    { { 0x01, 0x00 }, 64, "a discard-only address" },
    { { 0xfc }, 7, "a unique-local address" },
    { { 0xfe, 0x80 }, 10, "a link-local address" },
    { { 0xfe, 0xc0 }, 10, "a site-local address" },
    { { 0xff }, 8, "a multicast address" },
};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static int prefix_match(const uint8_t *a, const uint8_t *net, int bits)
{
    int full = bits / 8, rest = bits % 8;
    if (memcmp(a, net, (size_t)full) != 0)
        return 0;
    if (!rest)
        return 1;
    uint8_t mask = (uint8_t)(0xff << (8 - rest));
    return (a[full] & mask) == (net[full] & mask);
}

/* The IPv4 address an IPv6 address stands for, if any: mapped
 * (::ffff:0:0/96), compatible (::/96 but :: and ::1), NAT64 (64:ff9b::/96)
 * or 6to4 (2002::/16, the next 32 bits). 1 with v4 filled, else 0. */
static int embedded_v4(const uint8_t *a, uint8_t *v4, const char **form)
{
    static const uint8_t mapped[12] = { [10] = 0xff, [11] = 0xff };
    static const uint8_t zero[12] = { 0 };
    static const uint8_t nat64[12] = { 0x00, 0x64, 0xff, 0x9b };
    if (memcmp(a, mapped, 12) == 0) {
        *form = "IPv4-mapped";
    } else if (memcmp(a, zero, 12) == 0) {
        if (a[12] == 0 && a[13] == 0 && a[14] == 0 && a[15] <= 1)
            return 0; /* :: and ::1 are IPv6's own */
        *form = "IPv4-compatible";
    } else if (memcmp(a, nat64, 12) == 0) {
        *form = "NAT64";
    } else if (a[0] == 0x20 && a[1] == 0x02) {
        memcpy(v4, a + 2, 4);
        *form = "6to4";
        return 1;
    } else {
        return 0;
    }
    memcpy(v4, a + 12, 4);
    return 1;
}

static int allowed(const struct ssrf_allow *allow, int family, const uint8_t *a)
{
    for (int i = 0; allow && i < allow->n; i++)
        if (allow->v[i].family == family && prefix_match(a, allow->v[i].addr, allow->v[i].bits))
            return 1;
    return 0;
}

static const char *refused_v4(const uint8_t *a)
{
    for (size_t i = 0; i < COUNT(v4_refused); i++)
        if (prefix_match(a, v4_refused[i].addr, v4_refused[i].bits))
            return v4_refused[i].what;
    return NULL;
}

static int check_v4(const uint8_t *a, const struct ssrf_allow *allow, char *why, size_t whylen)
{
    if (allowed(allow, AF_INET, a))
        return 0;
    const char *what = refused_v4(a);
    if (!what)
        return 0;
    char txt[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, a, txt, sizeof txt);
    snprintf(why, whylen, "%s is %s", txt, what);
    return -1;
}

static int check_v6(const uint8_t *a, const struct ssrf_allow *allow, char *why, size_t whylen)
{
    char txt[INET6_ADDRSTRLEN];
    uint8_t v4[4];
    const char *form = NULL;
    if (allowed(allow, AF_INET6, a))
        return 0;
    if (embedded_v4(a, v4, &form)) {
        if (allowed(allow, AF_INET, v4))
            return 0;
        const char *what = refused_v4(v4);
        if (!what)
            return 0;
        char t4[INET_ADDRSTRLEN];
        inet_ntop(AF_INET6, a, txt, sizeof txt);
        inet_ntop(AF_INET, v4, t4, sizeof t4);
        snprintf(why, whylen, "%s is the %s form of %s, %s", txt, form, t4, what);
        return -1;
    }
    for (size_t i = 0; i < COUNT(v6_refused); i++) {
        if (prefix_match(a, v6_refused[i].addr, v6_refused[i].bits)) {
            inet_ntop(AF_INET6, a, txt, sizeof txt);
            snprintf(why, whylen, "%s is %s", txt, v6_refused[i].what);
            return -1;
        }
    }
    return 0;
}

int ssrf_check(const struct sockaddr *sa, const struct ssrf_allow *allow, char *why, size_t whylen)
{
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        return check_v4((const uint8_t *)&in->sin_addr, allow, why, whylen);
    }
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
        return check_v6(in6->sin6_addr.s6_addr, allow, why, whylen);
    }
    snprintf(why, whylen, "not an IPv4 or IPv6 address (family %d)", (int)sa->sa_family);
    return -1;
}

int ssrf_check_text(const char *ip, const struct ssrf_allow *allow, char *why, size_t whylen)
{
    uint8_t a[16];
    if (inet_pton(AF_INET, ip, a) == 1)
        return check_v4(a, allow, why, whylen);
    if (inet_pton(AF_INET6, ip, a) == 1)
        return check_v6(a, allow, why, whylen);
    snprintf(why, whylen, "\"%.64s\" is not a numeric IP address", ip);
    return -1;
}

/* ---- the allow-list ---- */

static int parse_cidr(const char *s, struct ssrf_cidr *c, char *err, size_t errlen)
{
    char buf[INET6_ADDRSTRLEN + 8];
    if (strlen(s) >= sizeof buf) {
        snprintf(err, errlen, "\"%.64s...\" is not an address or CIDR", s);
        return -1;
    }
    snprintf(buf, sizeof buf, "%s", s);
    char *slash = strchr(buf, '/');
    if (slash)
        *slash = '\0';
    memset(c, 0, sizeof *c);
    int max;
    if (inet_pton(AF_INET, buf, c->addr) == 1) {
        c->family = AF_INET;
        max = 32;
    } else if (inet_pton(AF_INET6, buf, c->addr) == 1) {
        c->family = AF_INET6;
        max = 128;
    } else {
        snprintf(err, errlen, "\"%s\" is not an address or CIDR (like 10.0.0.0/8 or ::1/128)", s);
        return -1;
    }
    c->bits = max;
    if (slash) {
        const char *p = slash + 1;
        int n = 0;
        if (!*p)
            goto bad_len;
        for (; *p; p++) {
            if (!isdigit((unsigned char)*p) || n > max)
                goto bad_len;
            n = n * 10 + (*p - '0');
        }
        if (n > max)
            goto bad_len;
        c->bits = n;
    }
    return 0;
bad_len:
    snprintf(err, errlen, "\"%s\": the prefix length must be 0..%d", s, max);
    return -1;
}

int ssrf_allow_parse(const char *list, struct ssrf_allow *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    const char *p = list ? list : "";
    while (*p) {
        while (*p == ',' || isspace((unsigned char)*p))
            p++;
        if (!*p)
            break;
        size_t n = 0;
        while (p[n] && p[n] != ',' && !isspace((unsigned char)p[n]))
            n++;
        char *item = xstrndup(p, n);
        struct ssrf_cidr c;
        int rc = parse_cidr(item, &c, err, errlen);
        free(item);
        if (rc < 0) {
            ssrf_allow_free(out);
            return -1;
        }
        out->v = xrealloc(out->v, (size_t)(out->n + 1) * sizeof *out->v);
        out->v[out->n++] = c;
        p += n;
    }
    return 0;
}

void ssrf_allow_free(struct ssrf_allow *a)
{
    free(a->v);
    a->v = NULL;
    a->n = 0;
}
