/*
 * Writing one JSON object on one line, for the commands' --json output:
 *
 *   json_t j;
 *   json_begin(&j, stdout);
 *   json_str(&j, "key", hex);
 *   json_u64(&j, "size", size);
 *   json_end(&j);           // "}\n"
 *
 * Strings are escaped as RFC 8259 asks; bytes that are not valid UTF-8 are
 * written as \u00XX escapes of each byte, so the line always parses.
 */
#ifndef EMOFS_JSON_H
#define EMOFS_JSON_H

#include <stdint.h>
#include <stdio.h>

typedef struct json {
    FILE *f;
    int first; /* no member written yet at this depth */
} json_t;

/* Starts an object on f. */
void json_begin(json_t *j, FILE *f);

/* Members: a string (NULL writes null), an unsigned integer, a number, a
 * boolean. */
void json_str(json_t *j, const char *name, const char *value);
void json_u64(json_t *j, const char *name, uint64_t value);
void json_double(json_t *j, const char *name, double value);
void json_bool(json_t *j, const char *name, int value);

/* A member holding an array of objects: json_array_begin, then for each
 * element json_object_begin ... json_object_end, then json_array_end. */
void json_array_begin(json_t *j, const char *name);
void json_object_begin(json_t *j);
void json_object_end(json_t *j);
void json_array_end(json_t *j);

/* Ends the object and the line, and flushes. */
void json_end(json_t *j);

#endif /* EMOFS_JSON_H */
