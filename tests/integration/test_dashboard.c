/* test_dashboard: the dashboard in a real browser. Starts the server (which
 * serves contrib/dashboard at /) and the test target, and runs
 * tests/browser/dashboard.mjs (headless Chromium via playwright-core): it
 * starts a run through the API, watches the run page's chart and numbers
 * grow from the live WebSocket frames, presses stop, checks the state and
 * the finished run's charts from the REST series, and saves a screenshot. */
#include "check_main.h"
#include "itest.h"
#include "target.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

START_TEST(dashboard_in_a_real_browser)
{
    struct target tgt;
    struct itest_server srv;
    target_start(&tgt, NULL);
    itest_server_start_healthy(&srv, NULL);
    const char *src = getenv("STAMPEDE_SRCDIR"), *bld = getenv("STAMPEDE_BUILDDIR");
    char out[600], cmd[4096];
    snprintf(out, sizeof out, "%s/tests/browser-out", bld ? bld : ".");
    snprintf(cmd, sizeof cmd, "rm -f '%s/dashboard.png' && node '%s/tests/browser/dashboard.mjs' "
             "http://127.0.0.1:%u http://127.0.0.1:%u '%s' > '%s.log' 2>&1",
             out, src ? src : ".", srv.port, tgt.port, out, out);
    int rc = system(cmd);
    int code = WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
    if (code != 0) {
        char tail[900];
        snprintf(tail, sizeof tail, "tail -20 '%s.log' >&2", out);
        if (system(tail) != 0)
            fprintf(stderr, "(no log)\n");
    }
    ck_assert_msg(code == 0, "the browser test failed (exit %d): see %s.log", code, out);
    char png[800];
    snprintf(png, sizeof png, "%s/dashboard.png", out);
    struct stat st;
    ck_assert_msg(stat(png, &st) == 0 && st.st_size > 10000, "no screenshot at %s", png);
    ck_assert_int_eq(itest_server_stop(&srv, 20000), 0);
    target_stop(&tgt);
}
END_TEST

static Suite *dashboard_suite(void)
{
    Suite *s = suite_create("dashboard");
    TCase *t = tcase_create("browser");
    tcase_set_timeout(t, 120);
    tcase_add_unchecked_fixture(t, itest_stack_up, itest_stack_down);
    tcase_add_test(t, dashboard_in_a_real_browser);
    suite_add_tcase(s, t);
    return s;
}

CHECK_MAIN(dashboard_suite)
