/*
 * config.c - txq-worker's settings. One alphabetical key table per section
 * (pgbouncer's CF_ABS): name, type, where it lives, whether a reload may
 * change it, default and bounds. Sources in order: defaults, the ini file
 * ([worker] and [queue.NAME] sections, parsed with inih), TXQ_<KEY>
 * environment variables, command-line overrides. Every error names its
 * source: file:line and key, the variable, or the flag.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include <ini.h>
#include <libpq-fe.h>

#include "txq.h"

#include "childenv.h"
#include "config.h"
#include "handler.h"
#include "log.h"
#include "mask.h"
#include "promtext.h"

enum ktype { K_STR, K_INT, K_SECS, K_BOOL };

struct key {
    const char *name;
    enum ktype type;
    size_t offset;
    int reloadable;
    const char *def; /* NULL: none (queue keys: inherit the worker's) */
    double min, max;
};

#define W(f) offsetof(worker_cfg, f)
#define Q(f) offsetof(queue_cfg, f)

/* [worker]; alphabetical. */
static const struct key worker_keys[] = {
    {"concurrency", K_INT, W(concurrency), 1, "1", 1, 1024},
    {"db", K_STR, W(db), 0, "", 0, 0},
    {"drain_timeout", K_SECS, W(drain_timeout), 1, "30", 0, 86400},
    {"key_file", K_STR, W(key_file), 0, "", 0, 0},
    {"listen", K_BOOL, W(listen), 0, "true", 0, 1},
    {"log_format", K_STR, W(log_format), 1, "logfmt", 0, 0},
    {"log_level", K_STR, W(log_level), 1, "info", 0, 0},
    {"maintain_interval", K_SECS, W(maintain_interval), 1, "5", 0.01, 3600},
    {"metrics_listen", K_STR, W(metrics_listen), 0, "", 0, 0},
    {"notify_command", K_STR, W(notify_command), 1, "", 0, 0},
    {"notify_interval", K_SECS, W(notify_interval), 1, "60", 0, 86400},
    {"notify_timeout", K_SECS, W(notify_timeout), 1, "30", 0.1, 3600},
    {"pass_env", K_STR, W(pass_env), 0, "", 0, 0},
    {"poll_interval", K_SECS, W(poll_interval), 1, "1", 0.01, 3600},
    {"pooler", K_STR, W(pooler), 0, "auto", 0, 0},
    {"prefetch", K_INT, W(prefetch), 1, "0", 0, 1000},
    {"schema", K_STR, W(schema), 0, "txq", 0, 0},
    {"startup_timeout", K_SECS, W(startup_timeout), 0, "60", 0, 86400},
    {"timeout", K_SECS, W(timeout), 1, "30", 0.001, 43000},
};

/* [queue.NAME]; alphabetical. */
static const struct key queue_keys[] = {
    {"concurrency", K_INT, Q(concurrency), 1, NULL, 1, 1024},
    {"handler", K_STR, Q(handler), 1, NULL, 0, 0},
    {"prefetch", K_INT, Q(prefetch), 1, NULL, 1, 1000},
    {"timeout", K_SECS, Q(timeout), 1, NULL, 0.001, 43000},
};

#define NKEYS(a) (sizeof(a) / sizeof((a)[0]))

static const struct key *
find_key(const struct key *keys, size_t n, const char *name)
{
    size_t i;

    for (i = 0; i < n; i++)
        if (strcmp(keys[i].name, name) == 0)
            return &keys[i];
    return NULL;
}

/* Seconds: a number with an optional unit ms, s, m or h. */
static int
parse_secs(const char *v, double *out)
{
    char *end;
    double d;

    errno = 0;
    d = strtod(v, &end);
    if (end == v || errno != 0 || !isfinite(d))
        return -1;
    while (*end == ' ')
        end++;
    if (strcmp(end, "ms") == 0)
        d /= 1000;
    else if (strcmp(end, "m") == 0 || strcmp(end, "min") == 0)
        d *= 60;
    else if (strcmp(end, "h") == 0)
        d *= 3600;
    else if (*end != '\0' && strcmp(end, "s") != 0)
        return -1;
    *out = d;
    return 0;
}

static int
parse_bool(const char *v, int *out)
{
    static const char *const t[] = {"1", "true", "yes", "on"};
    static const char *const f[] = {"0", "false", "no", "off"};
    size_t i;

    for (i = 0; i < 4; i++) {
        if (strcasecmp(v, t[i]) == 0) {
            *out = 1;
            return 0;
        }
        if (strcasecmp(v, f[i]) == 0) {
            *out = 0;
            return 0;
        }
    }
    return -1;
}

int
config_pooler(const char *v)
{
    if (strcmp(v, "auto") == 0)
        return TXQ_POOLER_AUTO;
    if (strcmp(v, "none") == 0)
        return TXQ_POOLER_NONE;
    if (strcmp(v, "transaction") == 0)
        return TXQ_POOLER_TRANSACTION;
    return -1;
}

const char *
config_worker_key(size_t i)
{
    return i < NKEYS(worker_keys) ? worker_keys[i].name : NULL;
}

/* Checks of particular string keys; "" when fine, else the problem. */
static const char *
check_str(const char *name, const char *v, char *buf, size_t size)
{
    if (strcmp(name, "log_format") == 0 && wlog_parse_format(v) < 0)
        return "must be logfmt or json";
    if (strcmp(name, "log_level") == 0 && wlog_parse_level(v) < 0)
        return "must be debug, info, warn or error";
    if (strcmp(name, "pooler") == 0 && config_pooler(v) < 0)
        return "must be auto, none or transaction";
    if (strcmp(name, "schema") == 0 && !txq_schema_name_valid(v))
        return "must match [a-z_][a-z0-9_]{0,62}";
    if (strcmp(name, "handler") == 0 && handler_check(v, buf, size) != 0)
        return buf;
    if (strcmp(name, "notify_command") == 0 && v[0] != '\0' &&
        handler_check_command(v, buf, size) != 0)
        return buf;
    if (strcmp(name, "pass_env") == 0 && childenv_check(v, buf, size) != 0)
        return buf;
    if (strcmp(name, "metrics_listen") == 0 && v[0] != '\0') {
        char host[256], port[8];

        if (prom_parse_listen(v, host, sizeof host, port, sizeof port, buf,
                              size) != 0)
            return buf;
    }
    return "";
}

/*
 * Set one key of base (a worker_cfg or queue_cfg) from text. Returns 0, or
 * -1 with the problem (without the source) in err.
 */
static int
set_key(
    void *base, const struct key *k, const char *v, char *err, size_t errsize)
{
    char *p = (char *)base + k->offset;
    char buf[256];
    const char *bad;
    double d;
    int b;

    switch (k->type) {
    case K_STR:
        bad = check_str(k->name, v, buf, sizeof buf);
        if (bad[0] != '\0') {
            snprintf(err, errsize, "%s: %s", k->name, bad);
            return -1;
        }
        {
            char *copy = strdup(v);

            if (copy == NULL) {
                snprintf(err, errsize, "out of memory");
                return -1;
            }
            free(*(char **)(void *)p);
            *(char **)(void *)p = copy;
        }
        return 0;
    case K_INT: {
        char *end;
        long l;

        errno = 0;
        l = strtol(v, &end, 10);
        if (end == v || *end != '\0' || errno != 0 || l < (long)k->min ||
            l > (long)k->max) {
            snprintf(err, errsize,
                     "%s: must be a whole number between %.0f and %.0f "
                     "(got \"%.40s\")",
                     k->name, k->min, k->max, v);
            return -1;
        }
        *(int *)(void *)p = (int)l;
        return 0;
    }
    case K_SECS:
        if (parse_secs(v, &d) != 0 || d < k->min || d > k->max) {
            snprintf(err, errsize,
                     "%s: must be seconds between %g and %g, with an "
                     "optional unit ms, s, m or h (got \"%.40s\")",
                     k->name, k->min, k->max, v);
            return -1;
        }
        *(double *)(void *)p = d;
        return 0;
    case K_BOOL:
        if (parse_bool(v, &b) != 0) {
            snprintf(err, errsize, "%s: must be true or false (got \"%.40s\")",
                     k->name, v);
            return -1;
        }
        *(int *)(void *)p = b;
        return 0;
    }
    return -1;
}

/* The queue called name, added (with no settings) if new; NULL when out of
 * memory. */
static queue_cfg *
get_queue(worker_cfg *cfg, const char *name)
{
    queue_cfg *n;
    size_t i;

    for (i = 0; i < cfg->nqueues; i++)
        if (strcmp(cfg->queues[i].name, name) == 0)
            return &cfg->queues[i];
    n = realloc(cfg->queues, (cfg->nqueues + 1) * sizeof *n);
    if (n == NULL)
        return NULL;
    cfg->queues = n;
    n = &cfg->queues[cfg->nqueues];
    memset(n, 0, sizeof *n);
    if ((n->name = strdup(name)) == NULL)
        return NULL;
    cfg->nqueues++;
    return n;
}

/* --- the ini file ------------------------------------------------------ */

struct ini_state {
    worker_cfg *cfg;
    FILE *f;
    const char *path;
    int line;      /* the line the reader returned last */
    int err_line;  /* first error's line, 0 if none */
    char err[512]; /* its message */
};

static void ini_error(struct ini_state *st, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
ini_error(struct ini_state *st, const char *fmt, ...)
{
    char msg[400];
    va_list ap;

    if (st->err_line != 0)
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    st->err_line = st->line;
    snprintf(st->err, sizeof st->err, "%s:%d: %s", st->path, st->line, msg);
}

/* inih's line reader, counting lines so errors name theirs. A control
 * character (a NUL above all, where a C string would end and hide the rest
 * of the line) means this is no text file: refused, not read as empty. */
static char *
read_line(char *str, int num, void *stream)
{
    struct ini_state *st = stream;
    int ch = EOF, bad = -1;
    size_t n = 0;

    while (n + 1 < (size_t)num && (ch = fgetc(st->f)) != EOF) {
        if (bad < 0 && ((ch < 0x20 && ch != '\t' && ch != '\r' && ch != '\n') ||
                        ch == 0x7f))
            bad = ch;
        str[n++] = (char)ch;
        if (ch == '\n')
            break;
    }
    if (n == 0)
        return NULL;
    str[n] = '\0';
    st->line++;
    if (bad >= 0)
        ini_error(st,
                  "control character 0x%02x: not a text file (an ini file "
                  "has [section] and key = value lines)",
                  bad);
    if (ch != '\n' && ch != EOF && n + 1 >= (size_t)num) {
        ini_error(st, "line too long (at most %d bytes)", num - 3);
        while ((ch = fgetc(st->f)) != EOF && ch != '\n')
            ;
    }
    return str;
}

/* The section names inih hands over are cut to INI_MAX_SECTION - 1
 * characters, a limit fixed when the library was built (Debian's: 50, so
 * 49 characters) and not in its header. A section that long may have been
 * longer: refused rather than taken for another queue. */
#define INI_SECTION_CUT 49

static int
on_ini_pair(void *user,
            const char *section,
            const char *name,
            const char *value)
{
    struct ini_state *st = user;
    const struct key *k;
    char err[400];
    void *base;

    if (strcmp(section, "worker") == 0) {
        k = find_key(worker_keys, NKEYS(worker_keys), name);
        base = st->cfg;
    } else if (strncmp(section, "queue.", 6) == 0) {
        if (strlen(section) >= INI_SECTION_CUT) {
            ini_error(st,
                      "[%.80s...]: a section name of %d characters or more "
                      "is cut short by libinih, so this may name another "
                      "queue; give a queue of more than %d characters its "
                      "handler with --handle NAME=HANDLER instead",
                      section, INI_SECTION_CUT, INI_SECTION_CUT - 7);
            return 0;
        }
        if (!txq_name_valid(section + 6)) {
            ini_error(st,
                      "[%.80s]: bad queue name (1 to 80 characters A-Z, "
                      "a-z, 0-9, - and _, the last 5 of which may be "
                      "\".fifo\")",
                      section);
            return 0;
        }
        k = find_key(queue_keys, NKEYS(queue_keys), name);
        base = get_queue(st->cfg, section + 6);
        if (base == NULL) {
            ini_error(st, "out of memory");
            return 0;
        }
    } else {
        ini_error(st,
                  "unknown section [%.80s] (expected [worker] or "
                  "[queue.NAME])",
                  section);
        return 0;
    }
    if (k == NULL) {
        ini_error(st, "[%.80s]: unknown key \"%.80s\"", section, name);
        return 0;
    }
    if (set_key(base, k, value, err, sizeof err) != 0) {
        ini_error(st, "[%.80s] %s", section, err);
        return 0;
    }
    return 1;
}

/* Whether a conninfo holds a password or an sslpassword (an unparsable
 * one: assume so). */
static int
has_password(const char *db)
{
    PQconninfoOption *opts, *o;
    char *msg = NULL;
    int found = 0;

    if (db == NULL || db[0] == '\0')
        return 0;
    if ((opts = PQconninfoParse(db, &msg)) == NULL) {
        PQfreemem(msg);
        return 1;
    }
    for (o = opts; o->keyword != NULL; o++)
        if (mask_is_secret(o->keyword) && o->val != NULL && o->val[0] != '\0')
            found = 1;
    PQconninfoFree(opts);
    return found;
}

static int
load_file(worker_cfg *cfg, const char *path, char *err, size_t errsize)
{
    struct ini_state st;
    struct stat sb;
    int rc;

    memset(&st, 0, sizeof st);
    st.cfg = cfg;
    st.path = path;
    st.f = fopen(path, "r");
    if (st.f == NULL) {
        snprintf(err, errsize, "%s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    rc = ini_parse_stream(read_line, &st, on_ini_pair, &st);
    /* A password others may read is refused, as libpq refuses such a
     * password file. */
    if (rc == 0 && st.err_line == 0 && has_password(cfg->db) &&
        fstat(fileno(st.f), &sb) == 0 && (sb.st_mode & (S_IRWXG | S_IRWXO))) {
        snprintf(err, errsize,
                 "%s: holds a password (db) but its mode is %04o: group or "
                 "others may read it; chmod 600 it, or keep the password in "
                 "~/.pgpass",
                 path, (unsigned)(sb.st_mode & 07777));
        fclose(st.f);
        return -1;
    }
    fclose(st.f);
    if (st.err_line != 0) {
        snprintf(err, errsize, "%s", st.err);
        return -1;
    }
    if (rc != 0) {
        snprintf(err, errsize,
                 "%s:%d: syntax error (expected [section] or "
                 "key = value)",
                 path, rc);
        return -1;
    }
    return 0;
}

/* --- environment and flags --------------------------------------------- */

static int
load_env(worker_cfg *cfg, char *err, size_t errsize)
{
    size_t i;

    for (i = 0; i < NKEYS(worker_keys); i++) {
        char var[64], msg[400];
        const char *v;
        size_t j;

        snprintf(var, sizeof var, "TXQ_%s", worker_keys[i].name);
        for (j = 4; var[j]; j++)
            var[j] = (char)toupper((unsigned char)var[j]);
        v = getenv(var);
        if (v == NULL)
            continue;
        if (set_key(cfg, &worker_keys[i], v, msg, sizeof msg) != 0) {
            snprintf(err, errsize, "environment %s: %s", var, msg);
            return -1;
        }
    }
    return 0;
}

static int
load_overrides(worker_cfg *cfg,
               const cfg_override *ov,
               size_t nov,
               char *err,
               size_t errsize)
{
    size_t i;

    for (i = 0; i < nov; i++) {
        char msg[400];
        const struct key *k;

        if (strcmp(ov[i].key, "handle") == 0) {
            const char *eq = strchr(ov[i].value, '=');
            char name[81]; /* a queue name: at most 80 characters */
            queue_cfg *q;

            if (eq != NULL && (size_t)(eq - ov[i].value) >= sizeof name) {
                snprintf(err, errsize,
                         "%s: bad queue name \"%.80s...\" (more than 80 "
                         "characters)",
                         ov[i].flag, ov[i].value);
                return -1;
            }
            if (eq == NULL) {
                snprintf(err, errsize,
                         "%s: expected QUEUE=HANDLER (got "
                         "\"%.80s\")",
                         ov[i].flag, ov[i].value);
                return -1;
            }
            memcpy(name, ov[i].value, (size_t)(eq - ov[i].value));
            name[eq - ov[i].value] = '\0';
            if (!txq_name_valid(name)) {
                snprintf(err, errsize,
                         "%s: bad queue name \"%.80s\" (1 to 80 "
                         "characters A-Z, a-z, 0-9, - and _, the last 5 of "
                         "which may be \".fifo\")",
                         ov[i].flag, name);
                return -1;
            }
            if ((q = get_queue(cfg, name)) == NULL ||
                set_key(q, find_key(queue_keys, NKEYS(queue_keys), "handler"),
                        eq + 1, msg, sizeof msg) != 0) {
                snprintf(err, errsize, "%s %s: %s", ov[i].flag, name,
                         q == NULL ? "out of memory" : msg);
                return -1;
            }
            continue;
        }
        k = find_key(worker_keys, NKEYS(worker_keys), ov[i].key);
        if (k == NULL || set_key(cfg, k, ov[i].value, msg, sizeof msg) != 0) {
            snprintf(err, errsize, "%s: %s", ov[i].flag,
                     k == NULL ? "unknown setting" : msg);
            return -1;
        }
    }
    return 0;
}

int
config_load(worker_cfg *cfg,
            const char *path,
            const cfg_override *ov,
            size_t nov,
            char *err,
            size_t errsize)
{
    size_t i;
    char msg[400];

    memset(cfg, 0, sizeof *cfg);
    for (i = 0; i < NKEYS(worker_keys); i++)
        if (set_key(cfg, &worker_keys[i], worker_keys[i].def, msg,
                    sizeof msg) != 0) {
            snprintf(err, errsize, "default %s", msg);
            goto fail;
        }
    if (path != NULL && path[0] != '\0') {
        if ((cfg->config_path = strdup(path)) == NULL) {
            snprintf(err, errsize, "out of memory");
            goto fail;
        }
        if (load_file(cfg, path, err, errsize) != 0)
            goto fail;
    }
    if (load_env(cfg, err, errsize) != 0 ||
        load_overrides(cfg, ov, nov, err, errsize) != 0)
        goto fail;
    if (cfg->nqueues == 0) {
        snprintf(err, errsize,
                 "no queue to consume: give --handle "
                 "QUEUE=HANDLER or a [queue.NAME] section "
                 "with a handler");
        goto fail;
    }
    for (i = 0; i < cfg->nqueues; i++)
        if (cfg->queues[i].handler == NULL) {
            snprintf(err, errsize, "%s%s[queue.%s]: handler is missing",
                     path ? path : "", path ? ": " : "", cfg->queues[i].name);
            goto fail;
        }
    return 0;
fail:
    config_free(cfg);
    return -1;
}

void
config_free(worker_cfg *cfg)
{
    size_t i, j;

    for (i = 0; i < NKEYS(worker_keys); i++)
        if (worker_keys[i].type == K_STR)
            free(*(char **)(void *)((char *)cfg + worker_keys[i].offset));
    for (i = 0; i < cfg->nqueues; i++) {
        for (j = 0; j < NKEYS(queue_keys); j++)
            if (queue_keys[j].type == K_STR)
                free(*(char **)(void *)((char *)&cfg->queues[i] +
                                        queue_keys[j].offset));
        free(cfg->queues[i].name);
    }
    free(cfg->queues);
    free(cfg->config_path);
    memset(cfg, 0, sizeof *cfg);
}

int
queue_concurrency(const worker_cfg *cfg, const queue_cfg *q)
{
    return q->concurrency > 0 ? q->concurrency : cfg->concurrency;
}

double
queue_timeout(const worker_cfg *cfg, const queue_cfg *q)
{
    return q->timeout > 0 ? q->timeout : cfg->timeout;
}

int
queue_prefetch(const worker_cfg *cfg, const queue_cfg *q)
{
    return q->prefetch > 0 ? q->prefetch : cfg->prefetch;
}

/* --- printing and comparing -------------------------------------------- */

/* The conninfo without its password and sslpassword. */
static void
print_db(const char *db, FILE *out)
{
    PQconninfoOption *opts, *o;
    char *errmsg = NULL;
    int first = 1;

    if (db == NULL || db[0] == '\0') {
        fprintf(out, "db = \n");
        return;
    }
    opts = PQconninfoParse(db, &errmsg);
    if (opts == NULL) {
        fprintf(out, "db = (unparsable conninfo)\n");
        PQfreemem(errmsg);
        return;
    }
    fprintf(out, "db = ");
    for (o = opts; o->keyword != NULL; o++) {
        if (o->val == NULL)
            continue;
        fprintf(out, "%s%s=%s", first ? "" : " ", o->keyword,
                mask_is_secret(o->keyword) ? "********" : o->val);
        first = 0;
    }
    fprintf(out, "\n");
    PQconninfoFree(opts);
}

static void
print_key(const void *base, const struct key *k, FILE *out)
{
    const char *p = (const char *)base + k->offset;

    switch (k->type) {
    case K_STR: {
        const char *s = *(char *const *)(const void *)p;

        fprintf(out, "%s = %s\n", k->name, s != NULL ? s : "");
        break;
    }
    case K_INT:
        fprintf(out, "%s = %d\n", k->name, *(const int *)(const void *)p);
        break;
    case K_SECS:
        fprintf(out, "%s = %g\n", k->name, *(const double *)(const void *)p);
        break;
    case K_BOOL:
        fprintf(out, "%s = %s\n", k->name,
                *(const int *)(const void *)p ? "true" : "false");
        break;
    }
}

void
config_print(const worker_cfg *cfg, FILE *out)
{
    size_t i;

    if (cfg->config_path != NULL)
        fprintf(out, "# effective settings (file: %s)\n", cfg->config_path);
    else
        fprintf(out, "# effective settings\n");
    fprintf(out, "[worker]\n");
    for (i = 0; i < NKEYS(worker_keys); i++) {
        if (strcmp(worker_keys[i].name, "db") == 0)
            print_db(cfg->db, out);
        else
            print_key(cfg, &worker_keys[i], out);
    }
    for (i = 0; i < cfg->nqueues; i++) {
        const queue_cfg *q = &cfg->queues[i];

        fprintf(out, "\n[queue.%s]\n", q->name);
        fprintf(out, "concurrency = %d\n", queue_concurrency(cfg, q));
        fprintf(out, "handler = %s\n", q->handler);
        fprintf(out, "prefetch = %d\n", queue_prefetch(cfg, q));
        fprintf(out, "timeout = %g\n", queue_timeout(cfg, q));
    }
}

static int
key_equal(const void *a, const void *b, const struct key *k)
{
    const char *pa = (const char *)a + k->offset;
    const char *pb = (const char *)b + k->offset;

    switch (k->type) {
    case K_STR: {
        const char *sa = *(char *const *)(const void *)pa;
        const char *sb = *(char *const *)(const void *)pb;

        return strcmp(sa ? sa : "", sb ? sb : "") == 0;
    }
    case K_INT:
    case K_BOOL:
        return *(const int *)(const void *)pa == *(const int *)(const void *)pb;
    case K_SECS:
        return *(const double *)(const void *)pa ==
               *(const double *)(const void *)pb;
    }
    return 0;
}

const char *
config_reload_check(const worker_cfg *old, const worker_cfg *neu)
{
    size_t i;

    for (i = 0; i < NKEYS(worker_keys); i++)
        if (!worker_keys[i].reloadable && !key_equal(old, neu, &worker_keys[i]))
            return worker_keys[i].name;
    return NULL;
}

int
config_queues_equal(const worker_cfg *a, const worker_cfg *b)
{
    size_t i;

    if (a->nqueues != b->nqueues || a->poll_interval != b->poll_interval)
        return 0;
    for (i = 0; i < a->nqueues; i++) {
        const queue_cfg *qa = &a->queues[i], *qb = &b->queues[i];

        if (strcmp(qa->name, qb->name) != 0 ||
            strcmp(qa->handler, qb->handler) != 0 ||
            queue_concurrency(a, qa) != queue_concurrency(b, qb) ||
            queue_timeout(a, qa) != queue_timeout(b, qb) ||
            queue_prefetch(a, qa) != queue_prefetch(b, qb))
            return 0;
    }
    return 1;
}
