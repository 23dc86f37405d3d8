/* import_curl: a curl command line — as "Copy as cURL" in browser devtools
 * (bash or Windows cmd flavour), Postman or API docs write it — turned into
 * a one-step Stampede script definition. What is understood, approximated
 * or refused is listed in docs/import.md. Nothing is run and no file is
 * read: options that need a file (-d @file, -b cookies.txt, -F, -T, -K)
 * are errors. */
#ifndef STAMPEDE_IMPORT_CURL_H
#define STAMPEDE_IMPORT_CURL_H

#include "import_def.h"
#include "json.h"

/* command: the whole command line, starting with the word curl (or
 * curl.exe; a leading "$ " prompt is skipped), split into words the way
 * bash would — or cmd.exe, when the text uses ^ line continuations or ^"
 * quoting and no \ continuations. Borrowed. flags: IMPORT_PRETTY or 0.
 * On success returns 0 and fills *out (release with import_result_deinit).
 * On failure returns -1, leaves *out zeroed and sets e->message to what
 * cannot be used ("unterminated single quote (opened at character 12)",
 * "unknown option '--foo'"); e->field is "" (the command as a whole). */
int import_curl(const char *command, unsigned flags, struct import_result *out,
                struct json_err *e);

/* The same for words a shell has already split, as in
 * `stampede import curl -X POST https://h/x`: argv[0..argc) are borrowed;
 * a first word "curl" (or curl.exe) is optional here. */
int import_curl_argv(int argc, const char *const *argv, unsigned flags, struct import_result *out,
                     struct json_err *e);

#endif
