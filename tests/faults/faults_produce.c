/*
 * faults_produce.c - txq-faults produce: a producer of the fault suite.
 *
 * Sends small transactions of 1 to 4 messages through libtxq to the
 * suite's queues (fq_std, fq_sql, fq_fifo with a sequence per group of its
 * own, fq_poison with innocent messages) and logs every key to
 * DIR/prod-SLOT.log: "U ..." before the COMMIT is sent, "O KEY" when it
 * returned success, "F KEY" when it surely failed; a COMMIT whose outcome
 * is unknown (the connection broke) leaves the keys uncertain. Keys carry
 * the slot and generation (SLOT.GEN-N), so a producer started again after
 * a kill never reuses one.
 *
 * Nothing is buffered for later: while the database is unreachable the
 * producer sends nothing, says so on stderr (once per outage, then every
 * 10 s) and tries to connect again every 200 ms.
 *
 * Faults it fires on itself (files in DIR/arm): producer-kill (SIGKILL
 * after the first send of a transaction), producer-kill-commit (SIGKILL
 * right after the COMMIT is sent, before its reply is read).
 * SIGTERM: finish the transaction in hand, exit 0.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "faults.h"
#include "txq.h"

#define MAX_BATCH 4
#define NGROUPS   4
#define LINE      160

static volatile sig_atomic_t stop;

static void
on_term(int sig)
{
    (void)sig;
    stop = 1;
}

typedef struct producer {
    const char *db;
    const char *dir;
    int slot;
    int gen;
    int pace_ms;
    int fd;
    txq_client *c;
    PGconn *pg;
    long long n;
    long long gseq[NGROUPS];
    double down_since; /* when the connection was lost, or 0 */
    double said_at;
} producer;

static int
take(const producer *p, const char *name)
{
    char path[512];

    snprintf(path, sizeof path, "%s/arm/%s", p->dir, name);
    return unlink(path) == 0;
}

/* The current phase: its number, or -1 while paused. */
static int
phase(const producer *p)
{
    char path[512], buf[32];

    fq_path(path, sizeof path, p->dir, "phase");
    if (fq_get(path, buf, sizeof buf) != 0 || strcmp(buf, "pause") == 0)
        return -1;
    return atoi(buf);
}

static void
lost(producer *p, const char *what)
{
    double now = fq_now();

    if (p->down_since == 0) {
        p->down_since = now;
        p->said_at = 0;
    }
    if (now - p->said_at >= 10) {
        char msg[512];
        size_t n;

        snprintf(msg, sizeof msg, "%s",
                 p->pg != NULL ? PQerrorMessage(p->pg) : "");
        n = strlen(msg);
        while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
            msg[--n] = '\0';
        for (char *c = msg; *c != '\0'; c++)
            if (*c == '\n' || *c == '\t')
                *c = ' ';
        fprintf(stderr,
                "txq-faults produce %d.%d: %s: %s (down %.0f s; sending "
                "nothing, retrying every 0.2 s)\n",
                p->slot, p->gen, what, msg[0] ? msg : "connection lost",
                now - p->down_since);
        p->said_at = now;
    }
}

static int
connect_db(producer *p)
{
    PGresult *r;

    if (p->pg != NULL && PQstatus(p->pg) == CONNECTION_OK)
        return 0;
    PQfinish(p->pg);
    p->pg = PQconnectdb(p->db);
    if (PQstatus(p->pg) != CONNECTION_OK) {
        lost(p, "cannot connect");
        return -1;
    }
    r = PQexec(p->pg, "set application_name = 'txq-faults producer'");
    PQclear(r);
    if (p->down_since != 0) {
        fprintf(stderr,
                "txq-faults produce %d.%d: connected again after "
                "%.1f s\n",
                p->slot, p->gen, fq_now() - p->down_since);
        p->down_since = 0;
    }
    return 0;
}

/* A command; 1 when it ran, 0 when it failed (the connection may have
 * gone). */
static int
cmd(producer *p, const char *sql)
{
    PGresult *r = PQexec(p->pg, sql);
    int ok = PQresultStatus(r) == PGRES_COMMAND_OK;

    PQclear(r);
    return ok;
}

static void
log_lines(producer *p, char lines[][LINE], int n, char state)
{
    char buf[MAX_BATCH * LINE];
    size_t len = 0;
    int i;

    for (i = 0; i < n; i++) {
        char key[FQ_KEY_MAX];

        if (state == 'U') {
            len +=
                (size_t)snprintf(buf + len, sizeof buf - len, "%s", lines[i]);
            continue;
        }
        sscanf(lines[i] + 2, "%31s", key);
        len += (size_t)snprintf(buf + len, sizeof buf - len, "%c %s\n", state,
                                key);
    }
    if (fq_append(p->fd, buf, len) != 0)
        perror("txq-faults produce: log");
}

/* One transaction. Returns 0, or -1 when the connection failed. */
static int
one_tx(producer *p, int ph)
{
    static const char *const queues[10] = {
        "fq_std", "fq_std",  "fq_std",  "fq_sql",  "fq_sql",
        "fq_sql", "fq_fifo", "fq_fifo", "fq_fifo", "fq_poison"};
    char lines[MAX_BATCH][LINE];
    int n = 1 + rand() % MAX_BATCH, i;
    PGresult *r;
    char st = 'U';

    if (!cmd(p, "BEGIN"))
        return -1;
    for (i = 0; i < n; i++) {
        const char *q = queues[rand() % 10];
        char key[FQ_KEY_MAX], grp[FQ_KEY_MAX], body[128];
        long long seq = 0;
        txq_send_opts o = TXQ_SEND_OPTS_INIT;
        txq_err rc;

        snprintf(key, sizeof key, "%d.%d-%lld", p->slot, p->gen, ++p->n);
        if (strcmp(q, "fq_fifo") == 0) {
            int g = rand() % NGROUPS;

            snprintf(grp, sizeof grp, "%d.%d-g%d", p->slot, p->gen, g);
            seq = ++p->gseq[g];
            o.group = grp;
        } else {
            snprintf(grp, sizeof grp, "-");
        }
        snprintf(body, sizeof body, "%s %s %lld -", key, grp, seq);
        rc = txq_send(p->c, p->pg, q, body, strlen(body), &o, NULL);
        if (rc != TXQ_OK) {
            if (PQstatus(p->pg) == CONNECTION_OK) {
                fprintf(stderr, "txq-faults produce %d.%d: send: %s\n", p->slot,
                        p->gen, txq_errmsg(p->c));
                cmd(p, "ROLLBACK");
                return 0;
            }
            return -1;
        }
        snprintf(lines[i], LINE, "U %s %s %s %lld - %d\n", key, q, grp, seq,
                 ph);
        if (i == 0 && take(p, "producer-kill"))
            raise(SIGKILL); /* mid-transaction: nothing of it is logged */
    }
    /* From here the transaction may commit: its keys are uncertain. */
    log_lines(p, lines, n, 'U');
    if (take(p, "producer-kill-commit")) {
        if (PQsendQuery(p->pg, "COMMIT"))
            PQflush(p->pg);
        raise(SIGKILL);
    }
    r = PQexec(p->pg, "COMMIT");
    if (PQresultStatus(r) == PGRES_COMMAND_OK &&
        strcmp(PQcmdStatus(r), "COMMIT") == 0) {
        st = 'O';
    } else if (PQresultStatus(r) == PGRES_COMMAND_OK) {
        st = 'F'; /* ROLLBACK: the transaction had failed */
    } else if (PQstatus(p->pg) == CONNECTION_OK) {
        const char *s = PQresultErrorField(r, PG_DIAG_SQLSTATE);

        /* An error answer on a live session: not committed, unless the
         * server is going away (class 08, 57). */
        if (s != NULL && strncmp(s, "08", 2) != 0 && strncmp(s, "57", 2) != 0)
            st = 'F';
    }
    PQclear(r);
    if (st != 'U')
        log_lines(p, lines, n, st);
    return PQstatus(p->pg) == CONNECTION_OK ? 0 : -1;
}

int
fq_produce_main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"db", required_argument, NULL, 'd'},
        {"schema", required_argument, NULL, 's'},
        {"dir", required_argument, NULL, 'D'},
        {"slot", required_argument, NULL, 'n'},
        {"gen", required_argument, NULL, 'g'},
        {"pace", required_argument, NULL, 'p'},
        {NULL, 0, NULL, 0}};
    producer p = {0};
    txq_options co = TXQ_OPTIONS_INIT;
    char path[512], name[64];
    struct sigaction sa;
    int ch;

    p.pace_ms = 10;
    while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (ch) {
        case 'd':
            p.db = optarg;
            break;
        case 's':
            co.schema = optarg;
            break;
        case 'D':
            p.dir = optarg;
            break;
        case 'n':
            p.slot = atoi(optarg);
            break;
        case 'g':
            p.gen = atoi(optarg);
            break;
        case 'p':
            p.pace_ms = atoi(optarg);
            break;
        default:
            return 2;
        }
    }
    if (p.db == NULL || p.dir == NULL || co.schema == NULL) {
        fprintf(stderr, "usage: txq-faults produce --db CONNINFO --schema S "
                        "--dir DIR --slot N --gen G [--pace MS]\n");
        return 2;
    }
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_term;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    srand((unsigned)(getpid() * 7919 + p.gen));
    snprintf(name, sizeof name, "prod-%d.log", p.slot);
    p.fd = open(fq_path(path, sizeof path, p.dir, name),
                O_WRONLY | O_CREAT | O_APPEND, 0644);
    p.c = txq_client_new(&co);
    if (p.fd < 0 || p.c == NULL) {
        fprintf(stderr, "txq-faults produce: cannot open %s\n", path);
        return 1;
    }
    while (!stop) {
        int ph = phase(&p);

        if (ph < 0) {
            fq_sleep(0.05);
            continue;
        }
        if (connect_db(&p) != 0 || one_tx(&p, ph) != 0) {
            if (PQstatus(p.pg) != CONNECTION_OK)
                lost(&p, "connection lost");
            fq_sleep(0.2);
            continue;
        }
        fq_sleep(p.pace_ms / 1000.0);
    }
    PQfinish(p.pg);
    txq_client_free(p.c);
    close(p.fd);
    return 0;
}
