/* cli_report: the observer of a `stampede run` (loop 0).
 *
 * Subscribes to the run's points on the in-process bus and prints one
 * progress line per second (redrawn in place on a terminal, one line per
 * second otherwise, both on stderr). On MSG_RUN_FINISHED it prints the
 * summary on stdout, writes the requested JSON/CSV files, sets the exit
 * code (0, 99 when a threshold failed, 1 when an output could not be
 * written) and stops the loops. MSG_CLI_INTERRUPT (Ctrl-C) asks runs for a
 * graceful stop. MSG_CLI_NOTE (answers to live control) is printed on stderr
 * between progress lines. */
#ifndef STAMPEDE_CLI_REPORT_H
#define STAMPEDE_CLI_REPORT_H

#include "run_msgs.h"

enum {
    MSG_CLI_INTERRUPT = MSG_RANGE_CLI + 1, /* plain msg: Ctrl-C */
    MSG_CLI_NOTE,                          /* struct cli_note: a line for the user */
};

struct cli_note {
    msg_t m;
    char text[480];
};

struct cli_report_config {
    struct loop_group *loops;  /* stopped when the run is over */
    actor_t *runs, *bus;
    uint64_t run_id;
    uint64_t planned_us;       /* for "elapsed/total" */
    const char *summary_json;  /* path or NULL */
    const char *timeseries_csv;/* path or NULL */
    int quiet;                 /* no progress lines */
    int *exit_code;            /* written when the run is over */
};

actor_t *cli_report_new(struct loop *l, const struct cli_report_config *cfg);
void cli_report_free(actor_t *a);

#endif
