/* test_ssrf: the collection guard on addresses — every refused range in
 * IPv4 and IPv6, the IPv6 forms that carry an IPv4 address, public
 * addresses let through, and the allow-list (CIDRs, both families, a
 * mapped address allowed by its IPv4 CIDR). */
#include "check_main.h"
#include "ssrf.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

static void refused(const char *ip, const struct ssrf_allow *allow, const char *frag)
{
    char why[256] = "";
    ck_assert_msg(ssrf_check_text(ip, allow, why, sizeof why) == -1, "%s let through", ip);
    ck_assert_msg(strstr(why, frag), "%s: \"%s\" lacks \"%s\"", ip, why, frag);
}

static void passes(const char *ip, const struct ssrf_allow *allow)
{
    char why[256] = "";
    ck_assert_msg(ssrf_check_text(ip, allow, why, sizeof why) == 0, "%s refused: %s", ip, why);
}

START_TEST(ipv4_special_ranges_are_refused)
{
    refused("127.0.0.1", NULL, "loopback");
    refused("127.255.255.254", NULL, "loopback");
    refused("10.0.0.1", NULL, "private (RFC 1918)");
    refused("10.255.255.255", NULL, "private");
    refused("172.16.0.1", NULL, "private");
    refused("172.31.255.255", NULL, "private");
    refused("192.168.1.1", NULL, "private");
    refused("169.254.169.254", NULL, "metadata");
    refused("169.254.1.1", NULL, "link-local");
    refused("100.64.0.1", NULL, "CGNAT");
    refused("100.127.255.255", NULL, "CGNAT");
    refused("100.100.100.200", NULL, "CGNAT"); /* a cloud's metadata address lives there */
    refused("0.0.0.0", NULL, "unspecified");
    refused("0.1.2.3", NULL, "unspecified");
    refused("224.0.0.1", NULL, "multicast");
    refused("239.255.255.250", NULL, "multicast");
    refused("255.255.255.255", NULL, "broadcast");
    refused("240.0.0.1", NULL, "reserved");
    refused("192.0.0.192", NULL, "special-purpose");
    refused("198.18.0.1", NULL, "benchmarking");
    /* the edges of the blocks are public */
    passes("172.15.255.255", NULL);
    passes("172.32.0.0", NULL);
    passes("100.63.255.255", NULL);
    passes("100.128.0.0", NULL);
    passes("169.253.255.255", NULL);
    passes("11.0.0.1", NULL);
    passes("93.184.216.34", NULL);
    passes("8.8.8.8", NULL);
    passes("223.255.255.255", NULL);
}
END_TEST

START_TEST(ipv6_special_ranges_are_refused)
{
    refused("::1", NULL, "loopback");
    refused("::", NULL, "unspecified");
    refused("fe80::1", NULL, "link-local");
    refused("febf::1", NULL, "link-local");
    refused("fc00::1", NULL, "unique-local");
    refused("fd12:3456::1", NULL, "unique-local");
    refused("fd00:ec2::254", NULL, "metadata");
    refused("ff02::1", NULL, "multicast");
    refused("fec0::1", NULL, "site-local");
    refused("64:ff9b:1::1", NULL, "NAT64");
    passes("2001:db8::1", NULL);
    passes("2606:4700::1111", NULL);
    passes("fe00::1", NULL);
}
END_TEST

START_TEST(ipv6_forms_of_ipv4_are_judged_as_ipv4)
{
    refused("::ffff:127.0.0.1", NULL, "IPv4-mapped form of 127.0.0.1, a loopback");
    refused("::ffff:7f00:1", NULL, "loopback");
    refused("::ffff:10.1.2.3", NULL, "private");
    refused("::ffff:169.254.169.254", NULL, "metadata");
    refused("::127.0.0.1", NULL, "IPv4-compatible");
    refused("::10.0.0.1", NULL, "private");
    refused("64:ff9b::7f00:1", NULL, "NAT64 form of 127.0.0.1");
    refused("64:ff9b::a9fe:a9fe", NULL, "metadata");
    refused("2002:7f00:1::", NULL, "6to4 form of 127.0.0.1");
    refused("2002:c0a8:101::1", NULL, "private");
    passes("::ffff:8.8.8.8", NULL);
    passes("64:ff9b::808:808", NULL);
    passes("2002:808:808::1", NULL);
}
END_TEST

START_TEST(sockaddr_and_bad_text)
{
    char why[256];
    struct sockaddr_in in = { .sin_family = AF_INET };
    inet_pton(AF_INET, "127.0.0.1", &in.sin_addr);
    ck_assert_int_eq(ssrf_check((struct sockaddr *)&in, NULL, why, sizeof why), -1);
    inet_pton(AF_INET, "1.1.1.1", &in.sin_addr);
    ck_assert_int_eq(ssrf_check((struct sockaddr *)&in, NULL, why, sizeof why), 0);
    struct sockaddr_in6 in6 = { .sin6_family = AF_INET6 };
    inet_pton(AF_INET6, "::ffff:127.0.0.1", &in6.sin6_addr);
    ck_assert_int_eq(ssrf_check((struct sockaddr *)&in6, NULL, why, sizeof why), -1);
    struct sockaddr un = { .sa_family = AF_UNIX };
    ck_assert_int_eq(ssrf_check(&un, NULL, why, sizeof why), -1);
    ck_assert_int_eq(ssrf_check_text("localhost", NULL, why, sizeof why), -1);
    ck_assert_ptr_nonnull(strstr(why, "not a numeric IP address"));
}
END_TEST

START_TEST(allow_list)
{
    struct ssrf_allow a;
    char err[200] = "";
    ck_assert_msg(ssrf_allow_parse(" 127.0.0.1/32, 10.20.0.0/16 ::1  fd00::/8,", &a, err, sizeof err) == 0, "%s", err);
    ck_assert_int_eq(a.n, 4);
    passes("127.0.0.1", &a);
    passes("::ffff:127.0.0.1", &a); /* the same address */
    refused("127.0.0.2", &a, "loopback");
    passes("10.20.255.1", &a);
    refused("10.21.0.1", &a, "private");
    passes("::1", &a);
    passes("fd00:ec2::254", &a); /* allowed explicitly, metadata or not */
    refused("fc00::1", &a, "unique-local");
    refused("169.254.169.254", &a, "metadata");
    ssrf_allow_free(&a);
    ck_assert_int_eq(ssrf_allow_parse("0.0.0.0/0", &a, err, sizeof err), 0);
    passes("169.254.169.254", &a);
    refused("::1", &a, "loopback"); /* IPv4 everything is not IPv6 */
    ssrf_allow_free(&a);
    ck_assert_int_eq(ssrf_allow_parse("", &a, err, sizeof err), 0);
    ck_assert_int_eq(a.n, 0);
    ssrf_allow_free(&a);
    ck_assert_int_eq(ssrf_allow_parse(NULL, &a, err, sizeof err), 0);
    /* errors name the entry */
    ck_assert_int_eq(ssrf_allow_parse("127.0.0.1/33", &a, err, sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, "\"127.0.0.1/33\": the prefix length must be 0..32"));
    ck_assert_int_eq(ssrf_allow_parse("10.0.0.0/8, intranet", &a, err, sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, "\"intranet\" is not an address or CIDR"));
    ck_assert_int_eq(a.n, 0);
    ck_assert_int_eq(ssrf_allow_parse("::1/129", &a, err, sizeof err), -1);
    ck_assert_int_eq(ssrf_allow_parse("10.0.0.0/", &a, err, sizeof err), -1);
    ck_assert_int_eq(ssrf_allow_parse("10.0.0.0/x", &a, err, sizeof err), -1);
}
END_TEST

static Suite *ssrf_suite(void)
{
    Suite *s = suite_create("ssrf");
    TCase *t = tcase_create("addresses");
    tcase_add_test(t, ipv4_special_ranges_are_refused);
    tcase_add_test(t, ipv6_special_ranges_are_refused);
    tcase_add_test(t, ipv6_forms_of_ipv4_are_judged_as_ipv4);
    tcase_add_test(t, sockaddr_and_bad_text);
    tcase_add_test(t, allow_list);
    suite_add_tcase(s, t);
    return s;
}

CHECK_MAIN(ssrf_suite)
