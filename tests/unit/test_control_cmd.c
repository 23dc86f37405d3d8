/* test_control_cmd: the live-control commands typed into `stampede run`. */
#include "check_main.h"
#include "cli_control.h"

#include <string.h>

START_TEST(parses_commands)
{
    static const struct {
        const char *line;
        enum run_op op;
        double value;
        uint64_t ramp_us;
    } ok[] = {
        { "rate 300", RUN_OP_SET_RATE, 300, 0 },
        { "  rate 300/s over 10s ", RUN_OP_SET_RATE, 300, 10000000 },
        { "RATE 0.5 2m", RUN_OP_SET_RATE, 0.5, 120000000 },
        { "vus 40 over 500ms", RUN_OP_SET_VUS, 40, 500000 },
        { "scale 50%", RUN_OP_SCALE, 50, 0 },
        { "scale 150 over 1m", RUN_OP_SCALE, 150, 60000000 },
        { "pause", RUN_OP_PAUSE, 0, 0 },
        { "Resume\r", RUN_OP_RESUME, 0, 0 },
        { "stop", RUN_OP_STOP, 0, 0 },
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        struct control_cmd c;
        char err[160] = "";
        ck_assert_msg(cli_control_parse(ok[i].line, &c, err, sizeof err) == CONTROL_CMD, "'%s': %s",
                      ok[i].line, err);
        ck_assert_int_eq(c.op, ok[i].op);
        ck_assert_double_eq(c.value, ok[i].value);
        ck_assert_uint_eq(c.ramp_us, ok[i].ramp_us);
    }
    struct control_cmd c;
    char err[160];
    ck_assert_int_eq(cli_control_parse("", &c, err, sizeof err), CONTROL_EMPTY);
    ck_assert_int_eq(cli_control_parse(" \t", &c, err, sizeof err), CONTROL_EMPTY);
    ck_assert_int_eq(cli_control_parse("help", &c, err, sizeof err), CONTROL_HELP_CMD);
}
END_TEST

START_TEST(explains_mistakes)
{
    static const struct {
        const char *line, *says;
    } bad[] = {
        { "rate", "rate: give iterations per second" },
        { "rate fast", "rate: expected iterations per second, got \"fast\"" },
        { "rate -1", "got \"-1\"" },
        { "rate nan", "got \"nan\"" },
        { "rate 1e999", "got \"1e999\"" },
        { "vus 5%", "vus: expected a number of VUs" },
        { "scale 50/s", "scale: expected a percent like 50%" },
        { "rate 10 over", "\"over\" needs a duration" },
        { "rate 10 over soon", "expected a ramp duration like 10s, got \"soon\"" },
        { "rate 10 10s now", "unexpected \"now\"" },
        { "pause 3", "pause takes no arguments" },
        { "help me", "help takes no arguments" },
        { "faster", "unknown command \"faster\"" },
        { "rate 1 over 1s a b", "too many words" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct control_cmd c;
        char err[160] = "";
        ck_assert_msg(cli_control_parse(bad[i].line, &c, err, sizeof err) == CONTROL_BAD,
                      "'%s' accepted", bad[i].line);
        ck_assert_msg(strstr(err, bad[i].says), "'%s': \"%s\" does not say \"%s\"", bad[i].line, err,
                      bad[i].says);
    }
}
END_TEST

static Suite *control_cmd_suite(void)
{
    Suite *s = suite_create("control_cmd");
    TCase *tc = tcase_create("parse");
    tcase_add_test(tc, parses_commands);
    tcase_add_test(tc, explains_mistakes);
    suite_add_tcase(s, tc);
    return s;
}

CHECK_MAIN(control_cmd_suite)
