/*
 * Test helpers shared by the codec tests: the hex test vectors of
 * schema/vectors/ (format in schema/vectors/README.md) and a small seeded
 * PRNG, so every run tests the same inputs.
 */
#ifndef TEST_VECTORS_H
#define TEST_VECTORS_H

#include <stddef.h>
#include <stdint.h>

#define VECTOR_MAX_LEN 65536 /* bytes of one vector, at most */

typedef struct vector {
    char name[128]; /* file name, "ping.hex" */
    uint8_t *buf;   /* exactly len bytes, so AddressSanitizer sees any over-read */
    size_t len;
} vector_t;

/* Loads every *.hex file of dir into out[0..max), sorted by name, and sets
 * *n. A missing dir prints a hint and loads none (the tests then fail on
 * the count). @return 0, or -1 for a broken file (message printed). */
int vectors_load(const char *dir, vector_t *out, size_t max, size_t *n);

/* Frees what vectors_load allocated and sets *n to 0. */
void vectors_free(vector_t *v, size_t *n);

/* @return the vector called name, or NULL. */
const vector_t *vectors_find(const vector_t *v, size_t n, const char *name);

/* Parses one line of a .hex file, appending its bytes to buf[*len..cap).
 * @return 0, or -1 if the line is broken. */
int parse_hex_line(const char *line, uint8_t *buf, size_t cap, size_t *len);

/* splitmix64: the next number of the sequence seeded by *s. */
uint64_t rnd_next(uint64_t *s);

/* @return a uniform-enough number in [0, n); n > 0. */
uint32_t rnd_below(uint64_t *s, uint32_t n);

/* Fills out with n pseudo-random bytes. */
void rnd_bytes(uint64_t *s, void *out, size_t n);

/* Shuffles the n items of size bytes (at most 64) at base (Fisher-Yates). */
void rnd_shuffle(uint64_t *s, void *base, size_t n, size_t size);

#endif /* TEST_VECTORS_H */
