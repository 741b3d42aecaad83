/*
 * main.c - txq-worker: parse the command line, load the configuration
 * (defaults < --config file < TXQ_* environment < flags), then run the
 * supervisor (supervisor.c). Exit 0 clean, 1 fatal, 2 usage or config.
 */
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "config.h"
#include "log.h"
#include "mask.h"
#include "txq.h"
#include "util.h"
#include "worker.h"

#define MAX_OVERRIDES 256

static void
usage(FILE *out)
{
    fprintf(
        out,
        "usage: txq-worker [options] --handle QUEUE=HANDLER ...\n"
        "\n"
        "Runs handlers for txq queues and applies each queue's failure "
        "policy.\n"
        "\n"
        "Handlers:\n"
        "  sql:schema.fn      call schema.fn(m txq.message) in the consume\n"
        "                     transaction; raise = retry, TQ001 = permanent\n"
        "  so:path:symbol     a txq_handler_fn from a shared object\n"
        "  exec:program args  run a program (no shell): body on stdin,\n"
        "                     TXQ_MESSAGE_ID etc. in the environment;\n"
        "                     exit 0 ok, 65 permanent, 75/other retry\n"
        "\n"
        "Options (each also a [worker] key in the config file and a TXQ_KEY\n"
        "environment variable; precedence: defaults < file < env < flags):\n"
        "  -c, --config FILE        ini file: [worker] and [queue.NAME]\n"
        "                           (handler, concurrency, timeout, "
        "prefetch);\n"
        "                           also TXQ_CONFIG\n"
        "  -d, --db CONNINFO        connection (default: libpq PG* "
        "environment)\n"
        "  -s, --schema NAME        txq's schema (default txq)\n"
        "      --key-file FILE      keys of encrypted queues (mode 0600;\n"
        "                           read when a consumer starts)\n"
        "  -H, --handle Q=HANDLER   consume queue Q with HANDLER "
        "(repeatable)\n"
        "  -n, --concurrency N      consumer processes per queue (default "
        "1;\n"
        "                           a queue's own setting wins)\n"
        "      --timeout S          handler budget in seconds (default 30)\n"
        "      --prefetch N         messages claimed at a time (default 0:\n"
        "                           automatic, 1 to 16 by handler speed)\n"
        "      --poll-interval S    poll when no notification (default 1)\n"
        "      --no-listen          do not LISTEN (transaction poolers,\n"
        "                           standbys): poll every poll-interval\n"
        "      --pooler MODE        auto (default: detect a pooler), none, or\n"
        "                           transaction (PgBouncer pool_mode =\n"
        "                           transaction: no prepared statements, no\n"
        "                           session settings, implies --no-listen)\n"
        "      --drain-timeout S    on SIGTERM, finish work this long "
        "(default 30)\n"
        "      --maintain-interval S  run txq.maintain() (default 5)\n"
        "      --metrics-listen ADDR  serve /metrics, /healthz and /readyz\n"
        "                           over HTTP on HOST:PORT (a bare PORT:\n"
        "                           127.0.0.1; default: off)\n"
        "      --notify-command CMD run CMD for notify-policy alerts (no "
        "shell;\n"
        "                           TXQ_ALERT_* in the environment)\n"
        "      --notify-interval S  at most one command per queue per S "
        "(60)\n"
        "      --notify-timeout S   kill a command running longer (30)\n"
        "      --pass-env NAMES     variables of this environment that\n"
        "                           exec: handlers and the notify command\n"
        "                           get (comma-separated), besides PATH,\n"
        "                           HOME, USER, LOGNAME, SHELL, LANG, LC_*,\n"
        "                           TZ, TMPDIR; never PGPASSWORD, TXQ_DB or\n"
        "                           TXQ_KEY_FILE\n"
        "      --log-format F       logfmt (default) or json\n"
        "      --log-level L        debug, info (default), warn, error\n"
        "      --startup-timeout S  exit when the first connection has not\n"
        "                           succeeded after S (default 60; 0: wait)\n"
        "      --check-config       print the effective settings, check them\n"
        "                           against the database, exit (1: a problem)\n"
        "  -V, --version            print the version and exit\n"
        "  -h, --help               this help\n"
        "\n"
        "Signals: TERM/INT drain and exit 0 (a second one exits at once),\n"
        "HUP reloads the config file (the old one stays on error).\n");
}

enum {
    OPT_TIMEOUT = 256,
    OPT_PREFETCH,
    OPT_POLL,
    OPT_NO_LISTEN,
    OPT_DRAIN,
    OPT_MAINTAIN,
    OPT_NOTIFY_CMD,
    OPT_NOTIFY_INT,
    OPT_NOTIFY_TMO,
    OPT_PASS_ENV,
    OPT_STARTUP,
    OPT_LOG_FORMAT,
    OPT_LOG_LEVEL,
    OPT_CHECK,
    OPT_KEY_FILE,
    OPT_POOLER,
    OPT_METRICS
};

static const struct option longopts[] = {
    {"config", required_argument, NULL, 'c'},
    {"db", required_argument, NULL, 'd'},
    {"dsn", required_argument, NULL, 'd'},
    {"schema", required_argument, NULL, 's'},
    {"key-file", required_argument, NULL, OPT_KEY_FILE},
    {"handle", required_argument, NULL, 'H'},
    {"concurrency", required_argument, NULL, 'n'},
    {"timeout", required_argument, NULL, OPT_TIMEOUT},
    {"prefetch", required_argument, NULL, OPT_PREFETCH},
    {"poll-interval", required_argument, NULL, OPT_POLL},
    {"no-listen", no_argument, NULL, OPT_NO_LISTEN},
    {"pooler", required_argument, NULL, OPT_POOLER},
    {"drain-timeout", required_argument, NULL, OPT_DRAIN},
    {"maintain-interval", required_argument, NULL, OPT_MAINTAIN},
    {"metrics-listen", required_argument, NULL, OPT_METRICS},
    {"notify-command", required_argument, NULL, OPT_NOTIFY_CMD},
    {"notify-interval", required_argument, NULL, OPT_NOTIFY_INT},
    {"notify-timeout", required_argument, NULL, OPT_NOTIFY_TMO},
    {"pass-env", required_argument, NULL, OPT_PASS_ENV},
    {"startup-timeout", required_argument, NULL, OPT_STARTUP},
    {"log-format", required_argument, NULL, OPT_LOG_FORMAT},
    {"log-level", required_argument, NULL, OPT_LOG_LEVEL},
    {"check-config", no_argument, NULL, OPT_CHECK},
    {"version", no_argument, NULL, 'V'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0}};

/* The config key and the flag's name for an option. */
static int
option_key(int opt, const char **key, const char **flag)
{
    static const struct {
        int opt;
        const char *key, *flag;
    } map[] = {
        {'d', "db", "--db"},
        {'s', "schema", "--schema"},
        {OPT_KEY_FILE, "key_file", "--key-file"},
        {'H', "handle", "--handle"},
        {'n', "concurrency", "--concurrency"},
        {OPT_TIMEOUT, "timeout", "--timeout"},
        {OPT_PREFETCH, "prefetch", "--prefetch"},
        {OPT_POLL, "poll_interval", "--poll-interval"},
        {OPT_NO_LISTEN, "listen", "--no-listen"},
        {OPT_POOLER, "pooler", "--pooler"},
        {OPT_DRAIN, "drain_timeout", "--drain-timeout"},
        {OPT_MAINTAIN, "maintain_interval", "--maintain-interval"},
        {OPT_METRICS, "metrics_listen", "--metrics-listen"},
        {OPT_NOTIFY_CMD, "notify_command", "--notify-command"},
        {OPT_NOTIFY_INT, "notify_interval", "--notify-interval"},
        {OPT_NOTIFY_TMO, "notify_timeout", "--notify-timeout"},
        {OPT_PASS_ENV, "pass_env", "--pass-env"},
        {OPT_STARTUP, "startup_timeout", "--startup-timeout"},
        {OPT_LOG_FORMAT, "log_format", "--log-format"},
        {OPT_LOG_LEVEL, "log_level", "--log-level"},
    };
    size_t i;

    for (i = 0; i < sizeof map / sizeof map[0]; i++)
        if (map[i].opt == opt) {
            *key = map[i].key;
            *flag = map[i].flag;
            return 0;
        }
    return -1;
}

/* The --db values are copied into ov (a reload applies them again) and
 * their passwords overwritten in argv: ps and /proc/PID/cmdline of the
 * worker and of its consumer processes (forks of it) do not show them.
 * Returns 0, or -1 when out of memory. */
static int
hide_passwords(cfg_override *ov, size_t nov)
{
    size_t i;

    for (i = 0; i < nov; i++) {
        char *in_argv = (char *)(uintptr_t)ov[i].value;
        char *copy;

        if (strcmp(ov[i].key, "db") != 0)
            continue;
        if ((copy = strdup(in_argv)) == NULL)
            return -1;
        ov[i].value = copy;
        mask_password(in_argv);
    }
    return 0;
}

/* --check-config: what the start would find in the database (check.c),
 * so objects loaded too. Returns the exit code. */
static int
check_database(const worker_cfg *cfg)
{
    char err[2048];
    PGconn *pg = db_connect(cfg->db, "txq-worker check");
    int rc = EXIT_OK;

    if (pg == NULL || PQstatus(pg) != CONNECTION_OK) {
        fprintf(stderr, "txq-worker: database: cannot connect: %s\n",
                db_error(pg, err, sizeof err));
        rc = EXIT_FATAL;
    } else if (worker_check_db(cfg, pg, 1, err, sizeof err) != 0) {
        fprintf(stderr, "txq-worker: database: %s\n", err);
        rc = EXIT_FATAL;
    } else {
        char role[128];

        printf("; checked against the database: schema %s at this "
               "version, %zu queue(s) present, receive on each, their "
               "handlers ready\n",
               cfg->schema, cfg->nqueues);
        if (worker_may_maintain(cfg, pg, role, sizeof role) == 0)
            printf("; maintain() will not run from this worker: role %s "
                   "lacks operate on every queue ('*')\n",
                   role);
    }
    PQfinish(pg);
    return rc;
}

int
main(int argc, char **argv)
{
    static cfg_override ov[MAX_OVERRIDES];
    size_t nov = 0;
    const char *path = getenv("TXQ_CONFIG");
    int check = 0, opt;
    worker_cfg *cfg;
    char err[1024];

    while ((opt = getopt_long(argc, argv, "c:d:s:H:n:Vh", longopts, NULL)) !=
           -1) {
        const char *key, *flag;

        switch (opt) {
        case 'c':
            path = optarg;
            continue;
        case OPT_CHECK:
            check = 1;
            continue;
        case 'V':
            printf("txq-worker %s\n", txq_version());
            return EXIT_OK;
        case 'h':
            usage(stdout);
            return EXIT_OK;
        case '?':
            usage(stderr);
            return EXIT_USAGE;
        }
        if (option_key(opt, &key, &flag) != 0 || nov == MAX_OVERRIDES) {
            fprintf(stderr, "txq-worker: too many options\n");
            return EXIT_USAGE;
        }
        ov[nov].key = key;
        ov[nov].flag = flag;
        ov[nov].value = opt == OPT_NO_LISTEN ? "false" : optarg;
        nov++;
    }
    if (optind < argc) {
        fprintf(stderr, "txq-worker: unexpected argument \"%s\"\n",
                argv[optind]);
        usage(stderr);
        return EXIT_USAGE;
    }
    if (hide_passwords(ov, nov) != 0 || (cfg = malloc(sizeof *cfg)) == NULL) {
        fprintf(stderr, "txq-worker: out of memory\n");
        return EXIT_FATAL;
    }
    if (config_load(cfg, path, ov, nov, err, sizeof err) != 0) {
        fprintf(stderr, "txq-worker: %s\n", err);
        free(cfg);
        return EXIT_USAGE;
    }
    if (check) {
        int rc;

        config_print(cfg, stdout);
        rc = check_database(cfg);
        config_free(cfg);
        free(cfg);
        return rc;
    }
    wlog_set_format(cfg->log_format);
    wlog_set_level(cfg->log_level);
    return supervisor_run(cfg, path, ov, nov);
}
