/* cli_run: the `stampede run` command (see cli_run.c). */
#ifndef STAMPEDE_CLI_RUN_H
#define STAMPEDE_CLI_RUN_H

/* argv: the arguments after "run". Returns the process exit code. */
int cli_run_main(int argc, char **argv);

#endif
