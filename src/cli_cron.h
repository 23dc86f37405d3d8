/* cli_cron: the `stampede cron` command (see cli_cron.c). */
#ifndef STAMPEDE_CLI_CRON_H
#define STAMPEDE_CLI_CRON_H

/* argv: the arguments after "cron". Prints the fire times on stdout and
 * errors on stderr. Returns the exit code: 0 ok, 1 the expression never
 * fires within the search bound, 2 a bad expression, zone or argument. */
int cli_cron_main(int argc, char **argv);

#endif
