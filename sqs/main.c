/*
 * main.c - txq-sqs: an SQS-compatible HTTP endpoint on txq. Parses the
 * configuration (defaults < --config ini file, section [sqs] < flags),
 * loads the credentials, opens the database pool and the HTTP listener,
 * then waits for signals: SIGTERM/SIGINT drain (no new connections, long
 * polls answered at once, requests in flight finished, up to
 * drain_timeout; a second one exits at once), SIGHUP reloads the
 * credentials file (the old set stays on error). Exit 0 clean, 1 fatal,
 * 2 usage or configuration.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ini.h>
#include <microhttpd.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "http.h"
#include "log.h"
#include "mask.h"
#include "promtext.h"
#include "sqs.h"

#define VERSION      "0.1.0"
#define VERSION_TEXT "txq-sqs " VERSION

struct config {
    char *listen, *db, *schema, *credentials, *region, *account;
    char *receipt_key, *log_format, *log_level, *metrics_listen;
    long pool_size, max_connections;
    double poll_interval, drain_timeout;
};

static int sig_pipe[2] = {-1, -1};
static volatile sig_atomic_t got_term, got_hup;

static void
usage(FILE *out)
{
    fprintf(out,
            "usage: txq-sqs --db CONNINFO --credentials FILE [options]\n"
            "\n"
            "An SQS-compatible HTTP endpoint (query and JSON protocols) on\n"
            "txq's SQL API. Every request is signed (SigV4) with a key of\n"
            "the credentials file and runs as that key's PostgreSQL role.\n"
            "\n"
            "Options (each also a key of the [sqs] section of --config;\n"
            "flags win):\n"
            "  -c, --config FILE        ini file, section [sqs]\n"
            "  -l, --listen ADDR:PORT   where to listen (default "
            "127.0.0.1:9324;\n"
            "                           [::1]:PORT for IPv6, port 0: any)\n"
            "  -d, --db CONNINFO        the login that acts as the keys' "
            "roles\n"
            "  -s, --schema NAME        txq's schema (default txq)\n"
            "      --credentials FILE   ACCESS_KEY_ID SECRET ROLE [ACCOUNT] "
            "per line,\n"
            "                           mode 0600\n"
            "      --region NAME        the region requests are signed for\n"
            "                           (default us-east-1)\n"
            "      --account-id ID      in queue URLs and ARNs (default "
            "000000000000)\n"
            "      --receipt-key FILE   the HMAC key of receipt handles (32+ "
            "bytes,\n"
            "                           mode 0600; default: random per "
            "process)\n"
            "      --pool-size N        database connections (default 8)\n"
            "      --max-connections N  HTTP connections (default 256)\n"
            "      --poll-interval S    long polls look again this often "
            "besides\n"
            "                           their wake-ups (default 5)\n"
            "      --drain-timeout S    on SIGTERM, finish requests this long "
            "(10)\n"
            "      --metrics-listen ADDR:PORT\n"
            "                           serve /metrics, /healthz and /readyz "
            "there\n"
            "                           (PORT alone: on 127.0.0.1; default "
            "off)\n"
            "      --log-format F       logfmt (default) or json\n"
            "      --log-level L        debug, info (default), warn, error\n"
            "      --check-config       load everything, print the settings, "
            "exit\n"
            "      --version, --help\n");
}

static void
on_signal(int sig)
{
    int saved = errno;
    char c = (char)sig;

    if (sig == SIGHUP)
        got_hup = 1;
    else
        got_term++;
    if (write(sig_pipe[1], &c, 1) < 0) {
        /* the pipe is full: a wake-up is pending anyway */
    }
    errno = saved;
}

static int
set_str(char **dst, const char *v)
{
    char *s = strdup(v);

    if (s == NULL)
        return -1;
    free(*dst);
    *dst = s;
    return 0;
}

static int
parse_long(const char *v, long lo, long hi, long *out)
{
    char *end;
    long x;

    errno = 0;
    x = strtol(v, &end, 10);
    if (errno || *v == '\0' || *end != '\0' || x < lo || x > hi)
        return -1;
    *out = x;
    return 0;
}

static int
parse_secs(const char *v, double lo, double hi, double *out)
{
    char *end;
    double x;

    errno = 0;
    x = strtod(v, &end);
    if (errno || *v == '\0' || *end != '\0' || !(x >= lo && x <= hi))
        return -1;
    *out = x;
    return 0;
}

/* Set one key (from the file or a flag). Returns 0, or -1 (reported). */
static int
set_key(struct config *c, const char *key, const char *v)
{
    int rc = 0;

    if (strcmp(key, "listen") == 0)
        rc = set_str(&c->listen, v);
    else if (strcmp(key, "db") == 0)
        rc = set_str(&c->db, v);
    else if (strcmp(key, "schema") == 0)
        rc = set_str(&c->schema, v);
    else if (strcmp(key, "credentials") == 0)
        rc = set_str(&c->credentials, v);
    else if (strcmp(key, "region") == 0)
        rc = set_str(&c->region, v);
    else if (strcmp(key, "account_id") == 0)
        rc = set_str(&c->account, v);
    else if (strcmp(key, "receipt_key") == 0)
        rc = set_str(&c->receipt_key, v);
    else if (strcmp(key, "log_format") == 0)
        rc = wlog_parse_format(v) < 0 ? -1 : set_str(&c->log_format, v);
    else if (strcmp(key, "log_level") == 0)
        rc = wlog_parse_level(v) < 0 ? -1 : set_str(&c->log_level, v);
    else if (strcmp(key, "pool_size") == 0)
        rc = parse_long(v, 1, 1000, &c->pool_size);
    else if (strcmp(key, "max_connections") == 0)
        rc = parse_long(v, 1, 100000, &c->max_connections);
    else if (strcmp(key, "poll_interval") == 0)
        rc = parse_secs(v, 0.01, 3600, &c->poll_interval);
    else if (strcmp(key, "drain_timeout") == 0)
        rc = parse_secs(v, 0, 3600, &c->drain_timeout);
    else if (strcmp(key, "metrics_listen") == 0) {
        char host[256], port[8], err[256];

        /* "" turns it off (an ini file's value overridden by the flag). */
        if (v[0] != '\0' &&
            prom_parse_listen(v, host, sizeof host, port, sizeof port, err,
                              sizeof err) != 0) {
            fprintf(stderr, "txq-sqs: metrics_listen: %s\n", err);
            return -1;
        }
        rc = set_str(&c->metrics_listen, v);
    } else {
        fprintf(stderr, "txq-sqs: unknown setting %s\n", key);
        return -1;
    }
    if (rc != 0)
        fprintf(stderr, "txq-sqs: bad value for %s\n", key);
    return rc;
}

static int
metrics_on(const struct config *c)
{
    return c->metrics_listen != NULL && c->metrics_listen[0] != '\0';
}

static int
ini_cb(void *user, const char *section, const char *name, const char *value)
{
    if (strcmp(section, "sqs") != 0) {
        fprintf(stderr, "txq-sqs: unknown section [%s]\n", section);
        return 0;
    }
    return set_key(user, name, value) == 0;
}

/* The receipt key: the file's bytes (32 or more, hashed to 32), or
 * random. Returns 0, or -1 (reported). */
static int
load_receipt_key(const char *path, unsigned char key[32])
{
    unsigned char buf[4096];
    struct stat st;
    size_t n;
    FILE *f;

    if (path == NULL) {
        if (RAND_bytes(key, 32) != 1)
            return -1;
        wlog(WLOG_WARN,
             "no receipt_key: receipt handles are not valid after a restart "
             "nor on another instance",
             NULL);
        return 0;
    }
    f = fopen(path, "rb");
    if (f == NULL) {
        fprintf(stderr, "txq-sqs: cannot open %s: %s\n", path, strerror(errno));
        return -1;
    }
    if (fstat(fileno(f), &st) != 0 || (st.st_mode & 077) != 0) {
        fprintf(stderr, "txq-sqs: %s must be mode 0600\n", path);
        fclose(f);
        return -1;
    }
    n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    if (n < 32) {
        fprintf(stderr, "txq-sqs: %s holds %zu bytes, needs 32 or more\n", path,
                n);
        return -1;
    }
    if (sqs_hmac_sha256("txq-sqs receipt key", 19, buf, n, key) != 0) {
        fprintf(stderr, "txq-sqs: cannot compute HMAC-SHA256 (libcrypto)\n");
        OPENSSL_cleanse(buf, sizeof buf);
        return -1;
    }
    OPENSSL_cleanse(buf, sizeof buf);
    return 0;
}

/* ADDR:PORT or [ADDR6]:PORT into a socket address. */
static int
parse_listen(const char *s,
             struct sockaddr_storage *ss,
             int *ipv6,
             char *host,
             size_t hostsize)
{
    char buf[256];
    char *colon, *addr = buf;
    struct addrinfo hints, *res = NULL;

    if (strlen(s) >= sizeof buf)
        return -1;
    strcpy(buf, s);
    colon = strrchr(buf, ':');
    if (colon == NULL)
        return -1;
    *colon = '\0';
    if (buf[0] == '[') {
        size_t l = strlen(buf);

        if (l < 2 || buf[l - 1] != ']')
            return -1;
        buf[l - 1] = '\0';
        addr = buf + 1;
    }
    memset(&hints, 0, sizeof hints);
    hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE;
    hints.ai_socktype = SOCK_STREAM;
    if (getaddrinfo(addr, colon + 1, &hints, &res) != 0 || res == NULL)
        return -1;
    memcpy(ss, res->ai_addr, res->ai_addrlen);
    *ipv6 = res->ai_family == AF_INET6;
    freeaddrinfo(res);
    snprintf(host, hostsize, "%s", s);
    return 0;
}

int
main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"listen", required_argument, NULL, 'l'},
        {"db", required_argument, NULL, 'd'},
        {"schema", required_argument, NULL, 's'},
        {"credentials", required_argument, NULL, 1},
        {"region", required_argument, NULL, 2},
        {"account-id", required_argument, NULL, 3},
        {"receipt-key", required_argument, NULL, 4},
        {"pool-size", required_argument, NULL, 5},
        {"max-connections", required_argument, NULL, 6},
        {"poll-interval", required_argument, NULL, 7},
        {"drain-timeout", required_argument, NULL, 8},
        {"log-format", required_argument, NULL, 9},
        {"log-level", required_argument, NULL, 10},
        {"version", no_argument, NULL, 11},
        {"check-config", no_argument, NULL, 12},
        {"metrics-listen", required_argument, NULL, 13},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    static const char *const keys[] = {
        [1] = "credentials",   [2] = "region",          [3] = "account_id",
        [4] = "receipt_key",   [5] = "pool_size",       [6] = "max_connections",
        [7] = "poll_interval", [8] = "drain_timeout",   [9] = "log_format",
        [10] = "log_level",    [13] = "metrics_listen",
    };
    struct config c = {0};
    sqs_server srv;
    struct sockaddr_storage ss;
    struct MHD_Daemon *d = NULL;
    const union MHD_DaemonInfo *info;
    struct sigaction sa;
    char host[256], err[512];
    const char *config = NULL;
    int opt, ipv6 = 0, rc = 1, i, check = 0;
    double drain_end = 0;

    memset(&srv, 0, sizeof srv);
    /* First pass: the config file, which the flags then override. */
    opterr = 0;
    while ((opt = getopt_long(argc, argv, "c:l:d:s:h", opts, NULL)) != -1)
        if (opt == 'c')
            config = optarg;
    c.pool_size = 8;
    c.max_connections = 256;
    c.poll_interval = 5;
    c.drain_timeout = 10;
    if (config != NULL) {
        int line = ini_parse(config, ini_cb, &c);

        if (line != 0) {
            if (line < 0)
                fprintf(stderr, "txq-sqs: cannot read %s\n", config);
            else
                fprintf(stderr, "txq-sqs: %s: error on line %d\n", config,
                        line);
            rc = 2;
            goto out;
        }
    }
    opterr = 1;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "c:l:d:s:h", opts, NULL)) != -1) {
        int bad = 0;

        switch (opt) {
        case 'c':
            break;
        case 'l':
            bad = set_key(&c, "listen", optarg);
            break;
        case 'd':
            bad = set_key(&c, "db", optarg);
            mask_password(optarg);
            break;
        case 's':
            bad = set_key(&c, "schema", optarg);
            break;
        case 12:
            check = 1;
            break;
        case 11:
            printf("%s\n", VERSION_TEXT);
            rc = 0;
            goto out;
        case 'h':
            usage(stdout);
            rc = 0;
            goto out;
        default:
            if ((opt >= 1 && opt <= 10) || opt == 13) {
                bad = set_key(&c, keys[opt], optarg);
                break;
            }
            usage(stderr);
            rc = 2;
            goto out;
        }
        if (bad) {
            rc = 2;
            goto out;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "txq-sqs: unexpected argument %s\n", argv[optind]);
        rc = 2;
        goto out;
    }
    if ((c.log_format && wlog_set_format(c.log_format) != 0) ||
        (c.log_level && wlog_set_level(c.log_level) != 0)) {
        rc = 2;
        goto out;
    }
    if (c.credentials == NULL) {
        fprintf(stderr, "txq-sqs: --credentials FILE is required\n");
        rc = 2;
        goto out;
    }
    if (parse_listen(c.listen ? c.listen : "127.0.0.1:9324", &ss, &ipv6, host,
                     sizeof host) != 0) {
        fprintf(stderr, "txq-sqs: --listen wants ADDR:PORT or [ADDR6]:PORT\n");
        rc = 2;
        goto out;
    }
    if (sqs_creds_load(c.credentials, err, sizeof err) != 0) {
        fprintf(stderr, "txq-sqs: %s\n", err);
        rc = 2;
        goto out;
    }

    srv.db = c.db ? c.db : "";
    srv.schema = c.schema ? c.schema : "txq";
    srv.region = c.region ? c.region : "us-east-1";
    srv.account = c.account ? c.account : "000000000000";
    srv.creds_path = c.credentials;
    srv.pool_size = (int)c.pool_size;
    srv.poll_interval = c.poll_interval;
    srv.pool_wait = 10;
    for (i = 0; srv.account[i]; i++)
        if (!(srv.account[i] >= '0' && srv.account[i] <= '9')) {
            fprintf(stderr, "txq-sqs: --account-id takes digits only\n");
            rc = 2;
            goto out;
        }
    if (load_receipt_key(c.receipt_key, srv.receipt_key) != 0) {
        rc = 2;
        goto out;
    }

    if (check) {
        char *db = strdup(srv.db);

        if (db != NULL)
            mask_password(db);
        printf("listen=%s\ndb=%s\nschema=%s\ncredentials=%s\nregion=%s\n"
               "account_id=%s\nreceipt_key=%s\npool_size=%d\n"
               "max_connections=%ld\npoll_interval=%g\ndrain_timeout=%g\n"
               "metrics_listen=%s\n",
               host, db ? db : "?", srv.schema, c.credentials, srv.region,
               srv.account, c.receipt_key ? c.receipt_key : "(random)",
               srv.pool_size, c.max_connections, c.poll_interval,
               c.drain_timeout, metrics_on(&c) ? c.metrics_listen : "(off)");
        free(db);
        rc = 0;
        goto out;
    }
    if (pipe(sig_pipe) != 0) {
        perror("txq-sqs: pipe");
        goto out;
    }
    fcntl(sig_pipe[0], F_SETFL, O_NONBLOCK);
    fcntl(sig_pipe[1], F_SETFL, O_NONBLOCK);
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);

    if (sqs_db_start(&srv) != 0) {
        wlog(WLOG_ERROR, "cannot start the database pool", NULL);
        goto out;
    }
    /* Before the requests' listener: every request is counted. */
    if (metrics_on(&c) && sqs_metrics_start(&srv, c.metrics_listen, VERSION,
                                            err, sizeof err) != 0) {
        wlog(WLOG_ERROR, "cannot serve metrics", "err=%s", err);
        sqs_db_stop();
        goto out;
    }
    d = sqs_http_start(&srv, (const struct sockaddr *)&ss, ipv6, host,
                       (unsigned)c.max_connections);
    if (d == NULL) {
        wlog(WLOG_ERROR, "cannot listen", "addr=%s", host);
        sqs_metrics_stop();
        sqs_db_stop();
        goto out;
    }
    if (sqs_move_start(&srv) != 0) {
        MHD_stop_daemon(d);
        sqs_metrics_stop();
        sqs_db_stop();
        goto out;
    }
    info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    wlog(WLOG_INFO, "listening", "addr=%s port=%u schema=%s region=%s", host,
         info ? (unsigned)info->port : 0u, srv.schema, srv.region);

    for (;;) {
        struct pollfd pfd = {sig_pipe[0], POLLIN, 0};
        char buf[16];

        /* Every second at least: /healthz tells a loop that comes round
         * from one that is stuck. */
        poll(&pfd, 1, drain_end > 0 ? 100 : 1000);
        sqs_metrics_alive();
        while (read(sig_pipe[0], buf, sizeof buf) > 0)
            ;
        if (got_hup) {
            got_hup = 0;
            if (sqs_creds_load(c.credentials, err, sizeof err) != 0)
                wlog(WLOG_ERROR, "credentials not reloaded: keeping the old",
                     "err=%s", err);
            else
                wlog(WLOG_INFO, "credentials reloaded", NULL);
        }
        if (got_term >= 2) {
            wlog(WLOG_WARN, "second signal: exiting now", NULL);
            _exit(1);
        }
        if (got_term && drain_end == 0) {
            wlog(WLOG_INFO, "draining", "requests=%d", sqs_http_active());
            srv.draining = 1;
            MHD_quiesce_daemon(d);
            sqs_wake_all();
            drain_end = sqs_now() + c.drain_timeout;
        }
        if (drain_end > 0 && (sqs_http_active() == 0 || sqs_now() >= drain_end))
            break;
    }
    if (sqs_http_active() > 0)
        wlog(WLOG_WARN, "drain timeout: stopping with requests in flight",
             "requests=%d", sqs_http_active());
    MHD_stop_daemon(d);
    sqs_move_stop();
    /* Last: /readyz answers "draining" until the process goes. */
    sqs_metrics_stop();
    sqs_db_stop();
    wlog(WLOG_INFO, "stopped", NULL);
    rc = 0;
out:
    sqs_creds_free();
    sqs_crypto_end();
    OPENSSL_cleanse(srv.receipt_key, sizeof srv.receipt_key);
    free(c.listen);
    free(c.db);
    free(c.schema);
    free(c.credentials);
    free(c.region);
    free(c.account);
    free(c.receipt_key);
    free(c.log_format);
    free(c.log_level);
    free(c.metrics_listen);
    return rc;
}
