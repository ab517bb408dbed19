/*
 * The option parser every command shares. See opts.h.
 */
#include "tool/cli/opts.h"

#include <string.h>

void opt_init(opt_parser_t *p, int argc, char **argv, int first, const char *cmd,
              const opt_spec_t *table, FILE *err)
{
    memset(p, 0, sizeof(*p));
    p->argv = argv;
    p->argc = argc;
    p->next = first;
    p->cmd = cmd;
    p->table = table;
    p->err = err;
}

/* @return the table's entry named (or aliased) by the first len bytes of
 * word, or NULL. */
static const opt_spec_t *find(const opt_spec_t *table, const char *word, size_t len)
{
    for (const opt_spec_t *s = table; s->name != NULL; s++) {
        if (strlen(s->name) == len && strncmp(s->name, word, len) == 0)
            return s;
        if (s->alias != NULL && strlen(s->alias) == len && strncmp(s->alias, word, len) == 0)
            return s;
    }
    return NULL;
}

static int fail(const opt_parser_t *p, const char *what, const char *word)
{
    fprintf(p->err, "emofs: %s: %s '%s' (see emofs %s --help)\n", p->cmd, what, word, p->cmd);
    return OPT_ERROR;
}

int opt_next(opt_parser_t *p)
{
    const char *word, *eq;
    const opt_spec_t *s;

    p->name = p->value = NULL;
    if (p->next >= p->argc)
        return OPT_END;
    word = p->argv[p->next++];
    if (!p->only_args && strcmp(word, "--") == 0) {
        p->only_args = 1;
        return opt_next(p);
    }
    if (p->only_args || word[0] != '-' || word[1] == '\0') {
        p->value = word;
        return OPT_ARG;
    }
    /* "--name=value" splits at the first '='; a short alias never does. */
    eq = strncmp(word, "--", 2) == 0 ? strchr(word, '=') : NULL;
    s = find(p->table, word, eq != NULL ? (size_t)(eq - word) : strlen(word));
    if (s == NULL)
        return fail(p, "unknown option", word);
    p->name = s->name;
    if (s->kind == OPT_FLAG) {
        if (eq == NULL)
            return s->id;
        fprintf(p->err, "emofs: %s: option %s takes no value (got '%s')\n", p->cmd, s->name, word);
        return OPT_ERROR;
    }
    if (eq != NULL) {
        p->value = eq + 1;
        return s->id;
    }
    if (p->next >= p->argc) {
        fprintf(p->err, "emofs: %s: %s needs a value\n", p->cmd, word);
        return OPT_ERROR;
    }
    p->value = p->argv[p->next++];
    return s->id;
}
