/*
 * faults_check.c - the checker of a fault run. It reads what the producers
 * logged (acknowledged "O", uncertain "U", surely failed "F"), what the
 * consumers committed (f_processed, written in the consume transaction)
 * and the dead letters, and counts, per fault kind (the phase a key was
 * sent in):
 *
 *   lost        acknowledged, neither processed nor dead-lettered as
 *               expected (a poison message must be dead-lettered)
 *   dup         processed more than once (committed twice)
 *   unexpected  processed, but no producer sent it (neither acknowledged
 *               nor uncertain), or its send surely failed
 *   reordered   a FIFO group processed out of its send order
 *   dead_bad    an innocent message dead-lettered
 *   late        the business write of a consumer killed (worker-kill) or
 *               stopped (worker-stop) before its COMMIT went in
 *   bad         a fault that did not happen or whose own check failed, and
 *               (in the total) producers and workers that ended on their
 *               own with an error
 *
 * An uncertain send may be processed or not, but at most once.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "faults.h"

typedef struct kent {
    int phase;
    int processed;
    int dead;
    char state; /* U, O or F */
    char poison;
} kent;

typedef struct counts {
    long phases, fired, bad;
    long ok, uncertain, uncertain_in, failed, processed;
    long lost, dup, unexpected, reordered, dead_ok, dead_bad, late;
    double drain;
} counts;

typedef struct history {
    fq_map keys; /* key -> index + 1 into ent */
    kent *ent;
    size_t n, cap;
    long unknown; /* processed keys no log names */
} history;

static kent *
get(history *h, const char *key, int create)
{
    size_t *slot = fq_map_get(&h->keys, key, create);

    if (slot == NULL)
        return NULL;
    if (*slot == 0) {
        if (!create)
            return NULL;
        if (h->n == h->cap) {
            size_t cap = h->cap ? h->cap * 2 : 4096;
            kent *e = realloc(h->ent, cap * sizeof *e);

            if (e == NULL)
                return NULL;
            h->ent = e;
            h->cap = cap;
        }
        memset(&h->ent[h->n], 0, sizeof h->ent[h->n]);
        h->ent[h->n].phase = -1;
        *slot = ++h->n;
    }
    return &h->ent[*slot - 1];
}

static void
read_log(history *h, const char *path)
{
    FILE *f = fopen(path, "r");
    char line[256], key[FQ_KEY_MAX], q[64], grp[64], flag[8];
    long long seq;
    int phase;

    if (f == NULL)
        return;
    while (fgets(line, sizeof line, f) != NULL) {
        kent *e;

        if (line[0] == 'U' && sscanf(line, "U %31s %63s %63s %lld %7s %d", key,
                                     q, grp, &seq, flag, &phase) == 6) {
            if ((e = get(h, key, 1)) == NULL)
                continue;
            e->phase = phase;
            e->poison = flag[0] == 'P';
            if (e->state == 0)
                e->state = 'U';
        } else if ((line[0] == 'O' || line[0] == 'F') &&
                   sscanf(line + 1, " %31s", key) == 1) {
            if ((e = get(h, key, 0)) != NULL)
                e->state = line[0];
        }
    }
    fclose(f);
}

static void
read_logs(history *h, const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char path[600];

    if (d == NULL)
        return;
    while ((e = readdir(d)) != NULL) {
        size_t n = strlen(e->d_name);

        if ((strncmp(e->d_name, "prod-", 5) == 0 && n > 4 &&
             strcmp(e->d_name + n - 4, ".log") == 0) ||
            strcmp(e->d_name, "nemesis.log") == 0)
            read_log(h, fq_path(path, sizeof path, dir, e->d_name));
    }
    closedir(d);
}

static counts *
bucket(counts *c, const fq_run *r, int phase)
{
    if (phase < 0 || phase >= r->nphase)
        return &c[FQ_NKINDS]; /* the total only */
    return &c[r->phase[phase].kind];
}

/* Processed rows in commit order per FIFO group (one in flight per group:
 * insert order is commit order). */
static int
read_processed(history *h, fq_run *r, counts *c)
{
    PGconn *pg = fq_db(r);
    PGresult *res;
    fq_map groups = {0};
    int i, n;

    if (pg == NULL)
        return -1;
    res = PQexecParams(pg,
                       "select key, queue, grp, seq from f_processed "
                       "order by id",
                       0, NULL, NULL, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        fprintf(stderr, "faults: check: %s", PQerrorMessage(pg));
        PQclear(res);
        return -1;
    }
    n = PQntuples(res);
    for (i = 0; i < n; i++) {
        const char *key = PQgetvalue(res, i, 0);
        kent *e = get(h, key, 0);
        counts *b = bucket(c, r, e != NULL ? e->phase : -1);

        if (e == NULL) {
            h->unknown++;
            continue;
        }
        e->processed++;
        b->processed++;
        if (e->state == 'F' || e->poison)
            b->unexpected++;
        if (strcmp(PQgetvalue(res, i, 1), "fq_fifo") == 0) {
            size_t *last = fq_map_get(&groups, PQgetvalue(res, i, 2), 1);
            size_t seq = (size_t)strtoull(PQgetvalue(res, i, 3), NULL, 10);

            if (last == NULL)
                continue;
            if (seq + 1 < *last)
                b->reordered++;
            else
                *last = seq + 1;
        }
    }
    PQclear(res);
    fq_map_free(&groups);

    res = PQexec(pg, "select convert_from(body, 'UTF8') from dead_letters");
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        fprintf(stderr, "faults: check: %s", PQerrorMessage(pg));
        PQclear(res);
        return -1;
    }
    n = PQntuples(res);
    for (i = 0; i < n; i++) {
        char key[FQ_KEY_MAX];
        kent *e;

        if (sscanf(PQgetvalue(res, i, 0), "%31s", key) != 1 ||
            (e = get(h, key, 0)) == NULL) {
            h->unknown++;
            continue;
        }
        e->dead++;
    }
    PQclear(res);
    return 0;
}

static void
judge(history *h, fq_run *r, counts *c)
{
    size_t i;

    for (i = 0; i < h->n; i++) {
        const kent *e = &h->ent[i];
        counts *b = bucket(c, r, e->phase);

        b->ok += e->state == 'O';
        b->uncertain += e->state == 'U';
        b->failed += e->state == 'F';
        if (e->processed > 1)
            b->dup += e->processed - 1;
        if (e->poison) {
            if (e->dead == 1)
                b->dead_ok++;
            else if (e->dead > 1)
                b->dup += e->dead - 1;
            else if (e->state == 'O')
                b->lost++;
            continue;
        }
        if (e->dead > 0 && e->state != 'F')
            b->dead_bad += e->dead;
        else if (e->dead > 0)
            b->unexpected += e->dead;
        if (e->state == 'U' && e->processed > 0)
            b->uncertain_in++;
        if (e->state == 'O' && e->processed == 0 && e->dead == 0)
            b->lost++;
    }
}

static long
violations(const counts *b)
{
    return b->lost + b->dup + b->unexpected + b->reordered + b->dead_bad +
           b->late + b->bad;
}

static void
print_line(const char *name, const counts *b, const char *note)
{
    printf("faults: %-20s phases=%ld fired=%ld ok=%ld uncertain=%ld(in=%ld) "
           "failed=%ld processed=%ld lost=%ld dup=%ld unexpected=%ld "
           "reordered=%ld dead_ok=%ld dead_bad=%ld late=%ld bad=%ld",
           name, b->phases, b->fired, b->ok, b->uncertain, b->uncertain_in,
           b->failed, b->processed, b->lost, b->dup, b->unexpected,
           b->reordered, b->dead_ok, b->dead_bad, b->late, b->bad);
    if (b->drain >= 0)
        printf(" drain=%.1fs", b->drain);
    if (note != NULL && note[0] != '\0')
        printf(" [%s]", note);
    printf("%s\n", violations(b) > 0 ? " FAIL" : "");
}

long
fq_check(fq_run *r)
{
    counts c[FQ_NKINDS + 1];
    const char *note[FQ_NKINDS] = {0};
    history h = {0};
    PGconn *pg;
    char went[64];
    long total = 0;
    int i, k, went_in = 0, kills = 0;

    memset(c, 0, sizeof c);
    for (k = 0; k <= FQ_NKINDS; k++)
        c[k].drain = -1;
    read_logs(&h, r->dir);
    if (read_processed(&h, r, c) != 0) {
        fq_map_free(&h.keys);
        free(h.ent);
        return 1;
    }
    judge(&h, r, c);
    pg = fq_db(r);
    for (i = 0; i < r->nphase; i++) {
        fq_phase *p = &r->phase[i];
        counts *b = &c[p->kind];

        b->phases++;
        b->fired += p->fired;
        b->bad += p->bad;
        if (p->drain > b->drain)
            b->drain = p->drain;
        if (p->note[0] != '\0')
            note[p->kind] = p->note;
        if (p->victim_pid > 0 && pg != NULL) {
            long long mine = fq_scalar(pg,
                                       "select count(*) from f_processed "
                                       "where key = '%s' and pid = %d",
                                       p->victim_key, p->victim_pid);

            /* Killed or stopped before its COMMIT: its write must not
             * be in. Killed while its COMMIT ran: either way, said. */
            if (p->kind == FQ_WORKER_KILL_COMMIT) {
                went_in += mine > 0;
                kills++;
            } else if (mine != 0) {
                b->late++;
            }
        }
    }
    if (kills > 0) {
        snprintf(went, sizeof went, "commit_went_in=%d/%d", went_in, kills);
        note[FQ_WORKER_KILL_COMMIT] = went;
    }
    for (k = 0; k < FQ_NKINDS; k++) {
        counts *t = &c[FQ_NKINDS];

        if (c[k].phases == 0)
            continue;
        print_line(fq_kind_name((fq_kind)k), &c[k], note[k]);
        t->phases += c[k].phases;
        t->fired += c[k].fired;
        t->bad += c[k].bad;
        t->ok += c[k].ok;
        t->uncertain += c[k].uncertain;
        t->uncertain_in += c[k].uncertain_in;
        t->failed += c[k].failed;
        t->processed += c[k].processed;
        t->lost += c[k].lost;
        t->dup += c[k].dup;
        t->unexpected += c[k].unexpected;
        t->reordered += c[k].reordered;
        t->dead_ok += c[k].dead_ok;
        t->dead_bad += c[k].dead_bad;
        t->late += c[k].late;
    }
    c[FQ_NKINDS].unexpected += h.unknown;
    c[FQ_NKINDS].bad += r->abnormal;
    c[FQ_NKINDS].drain = -1;
    print_line("total", &c[FQ_NKINDS], NULL);
    total = violations(&c[FQ_NKINDS]);
    fq_map_free(&h.keys);
    free(h.ent);
    return total;
}
