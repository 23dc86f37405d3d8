/* cli_import: the `stampede import` command (see cli_import.c). */
#ifndef STAMPEDE_CLI_IMPORT_H
#define STAMPEDE_CLI_IMPORT_H

/* argv: the arguments after "import". Prints the definition on stdout and
 * notes on stderr. Returns the exit code: 0 ok, 2 bad input or arguments,
 * 1 a file that cannot be read. */
int cli_import_main(int argc, char **argv);

#endif
