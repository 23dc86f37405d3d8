/* ssrf: which addresses the server's own outbound requests (dataset
 * collection, docs/datasets.md) may reach. Refused: loopback, private
 * (RFC 1918), link-local (with the cloud metadata address
 * 169.254.169.254), CGNAT 100.64/10, unique-local fc00::/7 (with
 * fd00:ec2::254), unspecified, multicast, broadcast and the other special
 * ranges listed in ssrf.c — and every IPv6 form that carries an IPv4
 * address (mapped ::ffff:a.b.c.d, compatible ::a.b.c.d, NAT64
 * 64:ff9b::/96, 6to4 2002::/16) is judged as that IPv4 address. An
 * allow-list of CIDRs (the `collect_allow` setting) lets chosen ranges
 * through. Load-test targets are never checked: the user owns them.
 * Pure functions; any thread. */
#ifndef STAMPEDE_SSRF_H
#define STAMPEDE_SSRF_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct ssrf_cidr {
    int family;          /* AF_INET or AF_INET6 */
    uint8_t addr[16];    /* network bytes (4 used for IPv4) */
    int bits;            /* prefix length */
};

/* A zeroed ssrf_allow permits nothing. */
struct ssrf_allow {
    struct ssrf_cidr *v;
    int n;
};

/* Parse a list of CIDRs or single addresses separated by commas or
 * blanks ("127.0.0.1/32, 10.1.0.0/16 ::1"); "" is an empty list. 0, or -1
 * with a message naming the bad entry in err (out is left empty). Free
 * with ssrf_allow_free. */
int ssrf_allow_parse(const char *list, struct ssrf_allow *out, char *err, size_t errlen);
void ssrf_allow_free(struct ssrf_allow *a);

/* 0 when sa may be reached; -1 when it may not, with the reason in why
 * ("127.0.0.1 is a loopback address"). allow may be NULL. Families other
 * than IPv4 and IPv6 are refused. */
int ssrf_check(const struct sockaddr *sa, const struct ssrf_allow *allow, char *why, size_t whylen);
/* The same for a numeric address in text; -1 also when it is not one. */
int ssrf_check_text(const char *ip, const struct ssrf_allow *allow, char *why, size_t whylen);

#endif
