/* import_shell: split a pasted command line into words the way the shell
 * it was written for would — bash (quotes, $'...', backslash escapes and
 * line continuations) or Windows cmd.exe followed by the C runtime's
 * argument rules (^ escapes and continuations, "..." quoting), which
 * Chrome's "Copy as cURL (cmd)" writes. Nothing is executed: variables are
 * kept as written and command substitution is an error. */
#ifndef STAMPEDE_IMPORT_SHELL_H
#define STAMPEDE_IMPORT_SHELL_H

#include "import_def.h"

#include <stddef.h>

struct import_words {
    char **v; /* n words, each NUL-terminated and owned */
    int n, cap;
};

/* Free the words and zero w; a zeroed w is a no-op. */
void import_words_deinit(struct import_words *w);

/* 1 if text uses cmd.exe syntax: a ^ line continuation or a word starting
 * with ^", and no \ line continuation. */
int import_shell_is_cmd(const char *text);

/* Split text (borrowed) into *w, which must be zeroed, with the rules
 * import_shell_is_cmd picks. Splitting stops, with a note in d, at what
 * ends the command: an unquoted | ; & (the rest of the line is ignored) or
 * a line starting a second curl command; redirections (> out, 2>&1) are
 * skipped. Kept with a note: $VAR and ${VAR}. Returns 0, or -1 with err set
 * ("unterminated single quote (at character 6)") and w holding what was
 * split so far (free it with import_words_deinit either way). */
int import_shell_split(const char *text, struct import_def *d, struct import_words *w, char *err,
                       size_t errlen);

#endif
