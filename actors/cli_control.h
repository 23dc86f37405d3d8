/* cli_control: live control of a `stampede run` from its standard input
 * (loop 0).
 *
 * Reads one command per line from a file descriptor (stdin) with a libevent
 * read event — only when it is readable, so the loop never waits on it —
 * turns it into a run_control request to `runs`, and hands every answer
 * (applied, refused, or a typing mistake) to the cli_report actor as a
 * MSG_CLI_NOTE, so that one actor owns the terminal. End of input or a read
 * error (EIO for a job in the background) only ends the control; the run
 * goes on.
 *
 * Commands (CONTROL_HELP): rate N [logs|metrics|traces] [over D], vus N [over D], scale P% [over
 * D], pause, resume, stop, help. */
#ifndef STAMPEDE_CLI_CONTROL_H
#define STAMPEDE_CLI_CONTROL_H

#include "run_msgs.h"

#include <stddef.h>

#define CONTROL_HELP                                                                               \
    "commands: rate N [SIGNAL] [over D]  (arrival-rate executors: N iterations/s;\n"              \
    "                           telemetry: N documents/s of logs, metrics or traces)\n"        \
    "          vus N [over D]   (constant-vus, ramping-vus)\n"                                     \
    "          scale P% [over D] (percent of the planned load)\n"                                  \
    "          pause | resume | stop | help      e.g. \"rate 500 over 10s\""

enum control_parse_result {
    CONTROL_CMD = 0,   /* *out holds a command */
    CONTROL_EMPTY = 1, /* blank line */
    CONTROL_HELP_CMD = 2,
    CONTROL_BAD = -1,  /* err says what is wrong */
};

struct control_cmd {
    enum run_op op;
    double value;
    uint64_t ramp_us;
    char signal[16];   /* "rate 300 logs": a telemetry run's signal, or "" */
};

/* Parse one line (without its newline). */
enum control_parse_result cli_control_parse(const char *line, struct control_cmd *out, char *err,
                                            size_t errlen);

struct cli_control_config {
    int fd;          /* where commands come from (not closed) */
    actor_t *runs;   /* gets the run_control requests */
    actor_t *report; /* gets MSG_CLI_NOTE messages */
    uint64_t run_id;
};

actor_t *cli_control_new(struct loop *l, const struct cli_control_config *cfg);
/* After the loops have stopped. NULL is a no-op. */
void cli_control_free(actor_t *a);

#endif
