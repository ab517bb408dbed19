/*
 * One JSON object per line. See json.h.
 */
#include "tool/cli/json.h"

#include <string.h>

void json_begin(json_t *j, FILE *f)
{
    j->f = f;
    j->first = 1;
    fputc('{', f);
}

/* @return the length of the UTF-8 sequence at s (1..4), or 0 if invalid. */
static size_t utf8_len(const unsigned char *s)
{
    size_t n = s[0] < 0x80 ? 1 : (s[0] & 0xe0) == 0xc0 ? 2 : (s[0] & 0xf0) == 0xe0 ? 3
                             : (s[0] & 0xf8) == 0xf0 ? 4 : 0;

    if (n == 2 && s[0] < 0xc2)
        return 0; /* overlong */
    for (size_t i = 1; i < n; i++)
        if ((s[i] & 0xc0) != 0x80)
            return 0;
    return n;
}

static void put_string(FILE *f, const char *text)
{
    const unsigned char *s = (const unsigned char *)text;

    fputc('"', f);
    while (*s != '\0') {
        size_t n = utf8_len(s);
        if (*s == '"' || *s == '\\') {
            fputc('\\', f);
            fputc(*s, f);
        } else if (*s == '\n') {
            fputs("\\n", f);
        } else if (*s == '\t') {
            fputs("\\t", f);
        } else if (*s < 0x20 || *s == 0x7f || n == 0) {
            fprintf(f, "\\u%04x", *s);
            n = 1;
        } else {
            fwrite(s, 1, n, f);
        }
        s += n ? n : 1;
    }
    fputc('"', f);
}

static void member(json_t *j, const char *name)
{
    if (!j->first)
        fputc(',', j->f);
    j->first = 0;
    if (name != NULL) {
        put_string(j->f, name);
        fputc(':', j->f);
    }
}

void json_str(json_t *j, const char *name, const char *value)
{
    member(j, name);
    if (value == NULL)
        fputs("null", j->f);
    else
        put_string(j->f, value);
}

void json_u64(json_t *j, const char *name, uint64_t value)
{
    member(j, name);
    fprintf(j->f, "%llu", (unsigned long long)value);
}

void json_double(json_t *j, const char *name, double value)
{
    member(j, name);
    fprintf(j->f, "%.3f", value);
}

void json_bool(json_t *j, const char *name, int value)
{
    member(j, name);
    fputs(value ? "true" : "false", j->f);
}

void json_array_begin(json_t *j, const char *name)
{
    member(j, name);
    fputc('[', j->f);
    j->first = 1;
}

void json_object_begin(json_t *j)
{
    member(j, NULL);
    fputc('{', j->f);
    j->first = 1;
}

void json_object_end(json_t *j)
{
    fputc('}', j->f);
    j->first = 0;
}

void json_array_end(json_t *j)
{
    fputc(']', j->f);
    j->first = 0;
}

void json_end(json_t *j)
{
    fputs("}\n", j->f);
    fflush(j->f);
}
