/*
 * One option parser for every emofs command and for emofs sim.
 *
 * A command describes its options in a table (name, short alias, whether
 * it takes a value, an id of its own) and walks its arguments with
 * opt_next(). The rules are the same everywhere:
 *   - "--name value" and "--name=value" mean the same (split at the first
 *     '='; the value may be empty or hold more '='); "-o value" for a
 *     short alias. The argument after an option that takes a value is its
 *     value, whatever it looks like ("-o -", "--data --x").
 *   - a flag given a value ("--quiet=1") is a usage error;
 *   - "-" alone is an argument (standard input or output), and "--" ends
 *     the options: every argument after it is an argument;
 *   - any other word starting with '-' that the table does not name is an
 *     unknown option, named whole in the error ("--frob=1").
 * Each error is one line on the parser's stream, "emofs: CMD: ...".
 */
#ifndef EMOFS_OPTS_H
#define EMOFS_OPTS_H

#include <stdio.h>

/* What an option takes. */
typedef enum opt_kind {
    OPT_FLAG = 0,  /* nothing (--quiet, --help, --json, ...) */
    OPT_VALUE = 1, /* one value (--data DIR, -o PATH, --nodes N, ...) */
} opt_kind_t;

/* One option of a command. A table ends with an entry whose name is NULL. */
typedef struct opt_spec {
    const char *name;  /* "--output" */
    const char *alias; /* "-o", or NULL */
    opt_kind_t kind;
    int id; /* > 0: what opt_next() returns for this option */
} opt_spec_t;

/* The entry that ends a table. */
#define OPT_TABLE_END                                                                              \
    {                                                                                              \
        NULL, NULL, OPT_FLAG, 0                                                                    \
    }

/* What opt_next() returns besides an option's id. */
enum {
    OPT_END = 0,    /* no arguments left */
    OPT_ARG = -1,   /* an argument that is not an option: in p->value */
    OPT_ERROR = -2, /* a usage error, already printed */
};

/* Walks one command's arguments. Fill with opt_init(); read name and
 * value after each opt_next(). */
typedef struct opt_parser {
    char **argv;
    int argc;
    int next;        /* index of the next argument to read */
    int only_args;   /* set after "--" */
    const char *cmd; /* named in error lines: "put", "manifest export", "sim" */
    const opt_spec_t *table;
    FILE *err;
    const char *name;  /* the last option, as the table names it ("--output" for -o) */
    const char *value; /* its value (OPT_VALUE), or the argument (OPT_ARG) */
} opt_parser_t;

/* Starts a walk over argv[first..argc-1] with the options of table (kept,
 * not copied). Errors go to err as "emofs: CMD: ...". Nothing is written
 * into argv. */
void opt_init(opt_parser_t *p, int argc, char **argv, int first, const char *cmd,
              const opt_spec_t *table, FILE *err);

/* Reads the next argument.
 * @return the id of an option of the table (its value, if it takes one, in
 * p->value), OPT_ARG (the argument in p->value), OPT_END, or OPT_ERROR
 * after printing one line (an unknown option, an option missing its value,
 * a flag given a value). */
int opt_next(opt_parser_t *p);

#endif /* EMOFS_OPTS_H */
