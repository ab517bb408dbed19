/*
 * One convention for every command's options: "--name=value" means the same
 * as "--name value". main() rewrites the arguments once, before it
 * dispatches, so each command parses only the "--name value" form.
 */
#ifndef EMOFS_OPTS_H
#define EMOFS_OPTS_H

/* What an option is. */
typedef enum opt_kind {
    OPT_UNKNOWN = -1, /* not an emofs option: left to the command to report */
    OPT_FLAG = 0,     /* takes no value (--quiet, --help, --json, ...) */
    OPT_VALUE = 1,    /* takes one value (--data DIR, -o PATH, --nodes N, ...) */
} opt_kind_t;

/* @return the kind of the option spelled name ("--data", "-o"; no "=..."),
 * from one table of every option of every command. */
opt_kind_t opts_kind(const char *name);

/* Splits each "--name=value" of argv[1..argc-1] whose name takes a value
 * into "--name" and "value" (at the first '='; the value may be empty or
 * hold more '='). The argument after an option that takes a value and is
 * given without '=' is its value and stays as it is; so do unknown
 * options and everything else. Writes a NUL over the '=' in argv's
 * strings; *out_argv points into them.
 * @return 0 and a malloc()ed, NULL-terminated *out_argv of *out_argc
 * entries (free it, not the strings), or EXIT_USAGE after printing one
 * line (a flag given a value: "--quiet=1"), or EXIT_FAIL (out of memory). */
int opts_expand(int argc, char **argv, int *out_argc, char ***out_argv);

#endif /* EMOFS_OPTS_H */
