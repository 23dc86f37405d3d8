/* uuid: random (version 4) UUIDs in their canonical text form, and the
 * check that a string is one. Ids are made here rather than by the
 * database so that one transaction can insert a row and the rows that
 * refer to it. */
#ifndef STAMPEDE_UUID_H
#define STAMPEDE_UUID_H

#define UUID_STR_LEN 37 /* 36 characters and the NUL */

/* Write a new random UUID into out (lower-case hex). Reads the kernel's
 * CSPRNG (getrandom, never blocks once the system is booted); aborts if
 * that fails, which only a broken system does. */
void uuid_v4(char out[UUID_STR_LEN]);
/* 1 if s is a canonical UUID: 8-4-4-4-12 hex digits, any case. */
int uuid_valid(const char *s);

#endif
