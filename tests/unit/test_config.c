/* test_config: precedence flag > env > file > default, and error messages
 * that name their source. */
#include "check_main.h"
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A fake environment for config_resolve. */
static const char *env_keys[8], *env_vals[8];
static int env_n;

static const char *fake_env(const char *name)
{
    for (int i = 0; i < env_n; i++)
        if (strcmp(env_keys[i], name) == 0)
            return env_vals[i];
    return NULL;
}

static void env_set(const char *k, const char *v)
{
    env_keys[env_n] = k;
    env_vals[env_n] = v;
    env_n++;
}

static char *write_file(const char *text)
{
    char *path = strdup("/tmp/stampede-config-XXXXXX");
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    return path;
}

static void setup(void)
{
    env_n = 0;
}

START_TEST(defaults)
{
    struct config c;
    char err[256] = "";
    config_init(&c);
    ck_assert_int_eq(config_resolve(&c, 0, NULL, fake_env, err, sizeof err), 0);
    ck_assert_str_eq(c.listen_host, "127.0.0.1");
    ck_assert_int_eq(c.listen_port, 8420);
    ck_assert_int_eq(c.loops, 0);
    ck_assert_int_eq(c.log_level, LOG_INFO);
    ck_assert_uint_eq(c.max_body_bytes, 1024 * 1024);
    ck_assert_str_eq(c.redis_url, "redis://127.0.0.1:63799");
    ck_assert_ptr_nonnull(strstr(c.pg_dsn, "port=54329"));
    config_deinit(&c);
}
END_TEST

START_TEST(precedence_flag_env_file_default)
{
    char *path = write_file("# sample\n"
                            "listen = 127.0.0.1:9001\n"
                            "loops = 3\n"
                            "log_level = debug\n"
                            "pg_dsn = \"host=127.0.0.1 port=1 dbname=x\"\n"
                            "max_body = 2MiB\n");
    char cfgflag[300];
    snprintf(cfgflag, sizeof cfgflag, "--config=%s", path);
    env_set("STAMPEDE_LOOPS", "5");              /* env beats file */
    env_set("STAMPEDE_LISTEN", "127.0.0.1:9002"); /* flag will beat env */
    char *argv[] = { cfgflag, "--listen", "127.0.0.1:9003" };
    struct config c;
    char err[256] = "";
    config_init(&c);
    ck_assert_msg(config_resolve(&c, 3, argv, fake_env, err, sizeof err) == 0, "%s", err);
    ck_assert_int_eq(c.listen_port, 9003);          /* flag */
    ck_assert_int_eq(c.loops, 5);                   /* env over file */
    ck_assert_int_eq(c.log_level, LOG_DEBUG);       /* file over default */
    ck_assert_str_eq(c.pg_dsn, "host=127.0.0.1 port=1 dbname=x"); /* quotes stripped */
    ck_assert_uint_eq(c.max_body_bytes, 2u << 20);
    ck_assert_str_eq(c.redis_url, "redis://127.0.0.1:63799"); /* default */
    ck_assert_str_eq(c.config_path, path);
    config_deinit(&c);
    unlink(path);
    free(path);
}
END_TEST

START_TEST(config_file_from_env)
{
    char *path = write_file("loops = 7\n");
    env_set("STAMPEDE_CONFIG", path);
    struct config c;
    char err[256] = "";
    config_init(&c);
    ck_assert_int_eq(config_resolve(&c, 0, NULL, fake_env, err, sizeof err), 0);
    ck_assert_int_eq(c.loops, 7);
    config_deinit(&c);
    unlink(path);
    free(path);
}
END_TEST

static void expect_error(int argc, char **argv, const char *needle)
{
    struct config c;
    char err[256] = "";
    config_init(&c);
    ck_assert_int_eq(config_resolve(&c, argc, argv, fake_env, err, sizeof err), -1);
    ck_assert_msg(strstr(err, needle) != NULL, "error '%s' lacks '%s'", err, needle);
    config_deinit(&c);
}

START_TEST(errors_name_their_source)
{
    char *a1[] = { "--loops", "many" };
    expect_error(2, a1, "--loops: expected an integer");
    char *a2[] = { "--listen", "localhost:80" };
    expect_error(2, a2, "not a numeric IP");
    char *a3[] = { "--listen", "127.0.0.1:99999" };
    expect_error(2, a3, "port must be 0..65535");
    char *a4[] = { "--nope", "1" };
    expect_error(2, a4, "unknown option '--nope'");
    char *a5[] = { "--loops" };
    expect_error(1, a5, "missing value");
    env_set("STAMPEDE_LOG_LEVEL", "loud");
    expect_error(0, NULL, "STAMPEDE_LOG_LEVEL: expected error|warn|info|debug|trace");
    env_n = 0;
    char *path = write_file("listen = 127.0.0.1:1\nlisen = x\n");
    char flag[300];
    snprintf(flag, sizeof flag, "--config=%s", path);
    char *a6[] = { flag };
    char needle[320];
    snprintf(needle, sizeof needle, "%s:2: unknown key 'lisen'", path);
    expect_error(1, a6, needle);
    unlink(path);
    free(path);
    path = write_file("max_body = lots\n");
    snprintf(flag, sizeof flag, "--config=%s", path);
    char *a7[] = { flag };
    expect_error(1, a7, ":1: max_body: expected a size");
    unlink(path);
    free(path);
    char *a8[] = { "--config=/nonexistent/stampede.conf" };
    expect_error(1, a8, "/nonexistent/stampede.conf");
}
END_TEST

START_TEST(ipv6_listen)
{
    char *argv[] = { "--listen=[::1]:8080" };
    struct config c;
    char err[256] = "";
    config_init(&c);
    ck_assert_int_eq(config_resolve(&c, 1, argv, fake_env, err, sizeof err), 0);
    ck_assert_str_eq(c.listen_host, "::1");
    ck_assert_int_eq(c.listen_port, 8080);
    config_deinit(&c);
}
END_TEST

static Suite *config_suite(void)
{
    Suite *s = suite_create("config");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_add_test(tc, defaults);
    tcase_add_test(tc, precedence_flag_env_file_default);
    tcase_add_test(tc, config_file_from_env);
    tcase_add_test(tc, errors_name_their_source);
    tcase_add_test(tc, ipv6_listen);
    suite_add_tcase(s, tc);
    return s;
}

CHECK_MAIN(config_suite)
