/* check_main: the common main() of every Check test program.
 * Output format is chosen by the environment (the harness sets
 * CK_TAP_LOG_FILE_NAME=- so automake's TAP driver counts each check). */
#ifndef STAMPEDE_CHECK_MAIN_H
#define STAMPEDE_CHECK_MAIN_H

#include <check.h>
#include <stdlib.h>

#define CHECK_MAIN(make_suite)                                  \
    int main(void)                                              \
    {                                                           \
        SRunner *sr = srunner_create(make_suite());             \
        srunner_run_all(sr, CK_ENV);                            \
        int failed = srunner_ntests_failed(sr);                 \
        srunner_free(sr);                                       \
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;       \
    }

#endif
