/*
 * test_worker_options.c - txq-worker's option reference against its option
 * table: every [worker] key of worker/config.c's table is in the flag table
 * of docs/worker.md (as a key and as its flag) and in `txq-worker --help`;
 * and the other way round, every key and flag those two name is in the
 * table (or is one of the few flags that are not settings: --config,
 * --handle, --check-config, --version, --help).
 *
 * A key's flag is --KEY with dashes for underscores; listen's is
 * --no-listen. Linked with worker/config.c (see CMakeLists.txt); needs no
 * database (label unit), but TXQ_SOURCE_DIR and TXQ_BUILD_DIR.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

#define MAX_NAMES 128

/* A set of names, small and flat. */
typedef struct names {
    char *v[MAX_NAMES];
    size_t n;
} names;

static int
has(const names *s, const char *name)
{
    size_t i;

    for (i = 0; i < s->n; i++)
        if (strcmp(s->v[i], name) == 0)
            return 1;
    return 0;
}

static void
add(names *s, const char *name, size_t len)
{
    char *copy;

    assert_true(s->n < MAX_NAMES);
    copy = strndup(name, len);
    assert_non_null(copy);
    if (has(s, copy)) {
        free(copy);
        return;
    }
    s->v[s->n++] = copy;
}

static void
clear(names *s)
{
    size_t i;

    for (i = 0; i < s->n; i++)
        free(s->v[i]);
    s->n = 0;
}

/* Every --flag-name in text from p to end (end NULL: to the NUL). */
static void
add_flags(names *s, const char *p, const char *end)
{
    while ((p = strstr(p, "--")) != NULL && (end == NULL || p < end)) {
        size_t n = 2;

        while (islower((unsigned char)p[n]) || p[n] == '-')
            n++;
        if (n > 2 && isalpha((unsigned char)p[2]))
            add(s, p, n);
        p += n;
    }
}

/* The whole file at dir/rel, malloc'd. */
static char *
slurp(const char *dir, const char *rel)
{
    char path[1024];
    FILE *f;
    char *buf;
    long size;

    assert_non_null(dir);
    snprintf(path, sizeof path, "%s/%s", dir, rel);
    f = fopen(path, "r");
    if (f == NULL)
        fail_msg("cannot open %s", path);
    fseek(f, 0, SEEK_END);
    size = ftell(f);
    fseek(f, 0, SEEK_SET);
    buf = calloc(1, (size_t)size + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)size, f), (size_t)size);
    fclose(f);
    return buf;
}

/* The flag of a [worker] key. */
static void
key_flag(const char *key, char *flag, size_t size)
{
    size_t i;

    if (strcmp(key, "listen") == 0) {
        snprintf(flag, size, "--no-listen");
        return;
    }
    snprintf(flag, size, "--%s", key);
    for (i = 2; flag[i]; i++)
        if (flag[i] == '_')
            flag[i] = '-';
}

static int
not_a_setting(const char *flag)
{
    static const char *const other[] = {
        "--config", "--handle", "--check-config", "--version", "--help"};
    size_t i;

    for (i = 0; i < sizeof other / sizeof other[0]; i++)
        if (strcmp(flag, other[i]) == 0)
            return 1;
    return 0;
}

/*
 * The reference table of docs/worker.md: the rows after the header
 * "| flag | `[worker]` key |" up to the first line that is not a row.
 * Column 1's --flags into flags; column 2's key (its first `word`, unless
 * the cell is a [queue.Q] key or a (`VARIABLE`)) into keys.
 */
static void
doc_table(const char *md, names *flags, names *keys)
{
    const char *p = strstr(md, "| flag | `[worker]` key |");

    assert_non_null(p);
    p = strchr(p, '\n') + 1; /* the header */
    p = strchr(p, '\n') + 1; /* |---| */
    while (*p == '|') {
        const char *eol = strchr(p, '\n');
        const char *c2 = strchr(p + 1, '|');
        const char *c3 = c2 != NULL ? strchr(c2 + 1, '|') : NULL;

        assert_non_null(eol);
        assert_non_null(c3);
        add_flags(flags, p, c2);
        c2++;
        while (*c2 == ' ')
            c2++;
        if (c2[0] == '`' && c2[1] != '[') {
            size_t n = 1;

            while (islower((unsigned char)c2[n]) || c2[n] == '_')
                n++;
            add(keys, c2 + 1, n - 1);
        }
        p = eol + 1;
    }
}

static void
test_reference_matches_table(void **state)
{
    names table = {{NULL}, 0}, doc_flags = {{NULL}, 0};
    names doc_keys = {{NULL}, 0}, help_flags = {{NULL}, 0};
    char *md = slurp(getenv("TXQ_SOURCE_DIR"), "docs/worker.md");
    char cmd[1024], flag[80], line[512], *problems;
    const char *key;
    size_t i, plen = 0;
    FILE *p;

    (void)state;
    problems = calloc(1, 16384);
    assert_non_null(problems);
#define PROBLEM(...)                                                       \
    (plen += (size_t)snprintf(problems + plen, 16384 - plen, __VA_ARGS__), \
     plen = plen < 16384 ? plen : 16383)

    for (i = 0; (key = config_worker_key(i)) != NULL; i++)
        add(&table, key, strlen(key));
    assert_true(table.n > 10);
    doc_table(md, &doc_flags, &doc_keys);
    free(md);

    assert_non_null(getenv("TXQ_BUILD_DIR"));
    snprintf(cmd, sizeof cmd, "'%s/txq-worker' --help",
             getenv("TXQ_BUILD_DIR"));
    p = popen(cmd, "r");
    assert_non_null(p);
    while (fgets(line, sizeof line, p) != NULL)
        add_flags(&help_flags, line, NULL);
    assert_int_equal(pclose(p), 0);

    for (i = 0; i < table.n; i++) {
        key_flag(table.v[i], flag, sizeof flag);
        if (!has(&doc_keys, table.v[i]))
            PROBLEM("key %s: not in docs/worker.md's table\n", table.v[i]);
        if (!has(&doc_flags, flag))
            PROBLEM("key %s: its flag %s not in docs/worker.md's table\n",
                    table.v[i], flag);
        if (!has(&help_flags, flag))
            PROBLEM("key %s: its flag %s not in --help\n", table.v[i], flag);
    }
    for (i = 0; i < doc_keys.n; i++)
        if (!has(&table, doc_keys.v[i]))
            PROBLEM("docs/worker.md names key %s, which the table has not\n",
                    doc_keys.v[i]);
    for (i = 0; i < doc_flags.n + help_flags.n; i++) {
        const char *f =
            i < doc_flags.n ? doc_flags.v[i] : help_flags.v[i - doc_flags.n];
        const char *where = i < doc_flags.n ? "docs/worker.md" : "--help";
        size_t k;
        int known = not_a_setting(f);

        for (k = 0; k < table.n && !known; k++) {
            key_flag(table.v[k], flag, sizeof flag);
            known = strcmp(flag, f) == 0;
        }
        if (!known)
            PROBLEM("%s names %s, which is no key of the table\n", where, f);
    }
    for (i = 0; i < 5; i++) {
        static const char *const other[] = {
            "--config", "--handle", "--check-config", "--version", "--help"};

        if (!has(&doc_flags, other[i]) || !has(&help_flags, other[i]))
            PROBLEM("%s missing from docs/worker.md or --help\n", other[i]);
    }
#undef PROBLEM
    clear(&table);
    clear(&doc_flags);
    clear(&doc_keys);
    clear(&help_flags);
    if (plen > 0) {
        fprintf(stderr, "%s", problems);
        free(problems);
        fail_msg("the option reference and the option table differ");
    }
    free(problems);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reference_matches_table),
    };

    return cmocka_run_group_tests_name("worker_options", tests, NULL, NULL);
}
