/* test_cron_cli: `stampede cron next` of the real binary ($STAMPEDE_BIN):
 * the lines it prints, --tz/--from/--count, and exit code 2 with a message
 * on stderr for a bad expression, zone or argument. No database needed. */
#include "check_main.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

struct cli_result {
    int code;
    char out[65536], err[4096];
};

static void read_fd(int fd, char *buf, size_t len)
{
    size_t n = 0;
    ssize_t r;
    lseek(fd, 0, SEEK_SET);
    while (n + 1 < len && (r = read(fd, buf + n, len - 1 - n)) > 0)
        n += (size_t)r;
    buf[n] = '\0';
}

/* Runs `stampede cron ARGS...` and waits for it. Output goes to files read
 * afterwards, so a full pipe can never block the child. */
static void run_cron(const char *const *args, struct cli_result *r)
{
    const char *bin = getenv("STAMPEDE_BIN");
    const char *argv[16];
    int n = 0;
    argv[n++] = bin ? bin : "./stampede";
    argv[n++] = "cron";
    for (int i = 0; args[i] && n < 15; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    char outp[] = "/tmp/stampede-cron-out-XXXXXX", errp[] = "/tmp/stampede-cron-err-XXXXXX";
    int fo = mkstemp(outp), fe = mkstemp(errp);
    ck_assert(fo >= 0 && fe >= 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        int devnull = open("/dev/null", O_RDONLY);
        dup2(devnull, 0);
        dup2(fo, 1);
        dup2(fe, 2);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    int st = 0;
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    r->code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    read_fd(fo, r->out, sizeof r->out);
    read_fd(fe, r->err, sizeof r->err);
    close(fo);
    close(fe);
    unlink(outp);
    unlink(errp);
}

#define RUN(r, ...)                                           \
    do {                                                      \
        const char *const args_[] = { __VA_ARGS__, NULL };    \
        run_cron(args_, (r));                                 \
    } while (0)

static struct cli_result res;

START_TEST(prints_fire_times)
{
    RUN(&res, "next", "30 2 * * *", "--tz", "Europe/Berlin", "--from", "2026-03-28T12:00:00+01:00", "--count", "3");
    ck_assert_msg(res.code == 0, "exit %d: %s", res.code, res.err);
    ck_assert_str_eq(res.out, "2026-03-29T03:00:00+02:00\n"
                              "2026-03-30T02:30:00+02:00\n"
                              "2026-03-31T02:30:00+02:00\n");
    ck_assert_str_eq(res.err, "");
    /* a local time without offset is read in --tz; the default count is 5 */
    RUN(&res, "next", "*/30 * * * *", "--tz=Europe/Berlin", "--from=2026-10-25T01:45");
    ck_assert_int_eq(res.code, 0);
    ck_assert_str_eq(res.out, "2026-10-25T02:00:00+02:00\n"
                              "2026-10-25T02:30:00+02:00\n"
                              "2026-10-25T02:00:00+01:00\n"
                              "2026-10-25T02:30:00+01:00\n"
                              "2026-10-25T03:00:00+01:00\n");
    /* Z, options before the expression, the default zone UTC, six fields */
    RUN(&res, "next", "--from", "2026-01-01T00:00:00Z", "--count", "2", "*/20 * * * * *");
    ck_assert_int_eq(res.code, 0);
    ck_assert_str_eq(res.out, "2026-01-01T00:00:20+00:00\n2026-01-01T00:00:40+00:00\n");
    RUN(&res, "next", "@weekly", "--tz", "Asia/Kolkata", "--from", "2026-01-01T00:00:00+05:30", "--count", "1");
    ck_assert_str_eq(res.out, "2026-01-04T00:00:00+05:30\n");
    /* --count 1000, the most */
    RUN(&res, "next", "* * * * *", "--from", "2026-01-01T00:00:00Z", "--count", "1000");
    ck_assert_int_eq(res.code, 0);
    int lines = 0;
    for (const char *p = res.out; *p; p++)
        lines += *p == '\n';
    ck_assert_int_eq(lines, 1000);
    ck_assert_ptr_nonnull(strstr(res.out, "2026-01-01T16:40:00+00:00\n"));
    /* without --from: now, so only the shape can be checked */
    RUN(&res, "next", "@daily", "--count", "2");
    ck_assert_int_eq(res.code, 0);
    ck_assert_int_eq((int)strlen(res.out), 2 * 26);
    ck_assert_ptr_nonnull(strstr(res.out, "T00:00:00+00:00\n"));
}
END_TEST

START_TEST(never_fires)
{
    RUN(&res, "next", "0 0 30 2 *");
    ck_assert_int_eq(res.code, 1);
    ck_assert_str_eq(res.out, "");
    ck_assert_str_eq(res.err, "stampede cron next: \"0 0 30 2 *\" never fires (searched 400 years ahead)\n");
}
END_TEST

START_TEST(bad_input_exits_2)
{
    RUN(&res, "next", "0 0 32 * *");
    ck_assert_int_eq(res.code, 2);
    ck_assert_str_eq(res.out, "");
    ck_assert_str_eq(res.err, "stampede cron next: \"0 0 32 * *\": field 3 (day of month): 32 is out of range 1-31\n");
    RUN(&res, "next", "0 0 * * FUNDAY");
    ck_assert_int_eq(res.code, 2);
    ck_assert_ptr_nonnull(strstr(res.err, "field 5 (day of week): unknown name \"FUNDAY\""));
    RUN(&res, "next", "* * * *");
    ck_assert_int_eq(res.code, 2);
    ck_assert_ptr_nonnull(strstr(res.err, "expected 5 or 6 fields, got 4"));
    RUN(&res, "next", "* * * * *", "--tz", "Mars/Olympus_Mons");
    ck_assert_int_eq(res.code, 2);
    ck_assert_ptr_nonnull(strstr(res.err, "--tz: unknown time zone \"Mars/Olympus_Mons\""));
    RUN(&res, "next", "* * * * *", "--tz", "../../etc/passwd");
    ck_assert_int_eq(res.code, 2);
    ck_assert_ptr_nonnull(strstr(res.err, "\"..\" is not allowed"));
    RUN(&res, "next", "* * * * *", "--from", "2026-02-30T00:00:00Z");
    ck_assert_int_eq(res.code, 2);
    ck_assert_ptr_nonnull(strstr(res.err, "--from: \"2026-02-30T00:00:00Z\" is not a time"));
    RUN(&res, "next", "* * * * *", "--from", "yesterday");
    ck_assert_int_eq(res.code, 2);
    RUN(&res, "next", "* * * * *", "--count", "1001");
    ck_assert_int_eq(res.code, 2);
    ck_assert_ptr_nonnull(strstr(res.err, "--count: \"1001\" is not a number from 1 to 1000"));
    RUN(&res, "next", "* * * * *", "--count", "0");
    ck_assert_int_eq(res.code, 2);
    RUN(&res, "next", "* * * * *", "--count");
    ck_assert_int_eq(res.code, 2);
    ck_assert_ptr_nonnull(strstr(res.err, "--count: missing value"));
    RUN(&res, "next", "* * * * *", "--bogus");
    ck_assert_int_eq(res.code, 2);
    ck_assert_ptr_nonnull(strstr(res.err, "unknown option --bogus"));
    RUN(&res, "next", "*", "*", "*", "*", "*");
    ck_assert_int_eq(res.code, 2);
    ck_assert_ptr_nonnull(strstr(res.err, "quote the expression"));
    RUN(&res, "next");
    ck_assert_int_eq(res.code, 2);
    ck_assert_ptr_nonnull(strstr(res.err, "usage: stampede cron next"));
    RUN(&res, "later", "* * * * *");
    ck_assert_int_eq(res.code, 2);
    ck_assert_ptr_nonnull(strstr(res.err, "unknown subcommand \"later\""));
    RUN(&res, "--help");
    ck_assert_int_eq(res.code, 0);
    ck_assert_ptr_nonnull(strstr(res.out, "usage: stampede cron next"));
}
END_TEST

static Suite *cron_cli_suite(void)
{
    Suite *s = suite_create("cron_cli");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, prints_fire_times);
    tcase_add_test(tc, never_fires);
    tcase_add_test(tc, bad_input_exits_2);
    suite_add_tcase(s, tc);
    return s;
}

CHECK_MAIN(cron_cli_suite)
