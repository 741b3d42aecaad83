/*
 * cli_console.c - `txq console`: the operators' web console (console.h).
 * Parses the options, binds the address (loopback unless told otherwise,
 * with a warning then), works out which Host and Origin values are its
 * own, and runs until SIGINT or SIGTERM, expiring idle sessions.
 */
#include <arpa/inet.h>
#include <getopt.h>
#include <netdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <sodium.h>

#include "console.h"
#include "log.h"

static const char console_usage[] =
    "usage: txq console [--listen ADDR:PORT] [--origin URL]...\n"
    "                   [--idle-timeout S] [--max-sessions N]\n"
    "                   [--log-level debug|info|warn|error]\n"
    "\n"
    "Serve the web console: queues with their depth and rates, dead letters\n"
    "with their errors (edit, requeue, discard), purge, pause and resume,\n"
    "alerts. Operators log in with a PostgreSQL role and its password; each\n"
    "session is a connection as that role, so its grants decide what it\n"
    "sees and may do. --db gives the rest of the conninfo (host, port,\n"
    "dbname, sslmode, ...); the role and password come from the login.\n"
    "\n"
    "  --listen ADDR:PORT  where to listen (default 127.0.0.1:8080; [::1]:P\n"
    "                      for IPv6); an address beyond loopback is warned\n"
    "                      about: put TLS in front of it\n"
    "  --origin URL        an address browsers reach the console by, as\n"
    "                      scheme://host[:port] (a proxy's, a DNS name's);\n"
    "                      needed when listening on 0.0.0.0 or ::\n"
    "  --idle-timeout S    log a session out after S seconds without a\n"
    "                      request (default 900)\n"
    "  --max-sessions N    sessions (database connections) at most\n"
    "                      (default 32)\n"
    "\n"
    "See docs/console.md.\n";

static volatile sig_atomic_t stop;

static void
on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

/* ADDR:PORT or [ADDR6]:PORT into ss; host gets ADDR (brackets kept for
 * IPv6) and *port PORT. */
static int
parse_listen(const char *s,
             struct sockaddr_storage *ss,
             socklen_t *len,
             char *host,
             size_t hostsize)
{
    char buf[256], *colon, *addr = buf;
    struct addrinfo hints, *res = NULL;

    if (strlen(s) >= sizeof buf)
        return -1;
    strcpy(buf, s);
    colon = strrchr(buf, ':');
    if (colon == NULL || colon[1] == '\0')
        return -1;
    *colon = '\0';
    snprintf(host, hostsize, "%s", buf);
    if (buf[0] == '[') {
        size_t l = strlen(buf);

        if (l < 3 || buf[l - 1] != ']')
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
    *len = res->ai_addrlen;
    freeaddrinfo(res);
    return 0;
}

/* 1 loopback, 0 a single other address, -1 every address. */
static int
loopback(const struct sockaddr_storage *ss)
{
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)ss;
        uint32_t a = ntohl(in->sin_addr.s_addr);

        if (a == 0)
            return -1;
        return (a >> 24) == 127;
    }
    {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)ss;

        if (IN6_IS_ADDR_UNSPECIFIED(&in6->sin6_addr))
            return -1;
        return IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr);
    }
}

static int
add_host(con_server *srv, const char *a, unsigned port)
{
    if (srv->nhosts >= CON_HOSTS_MAX)
        return -1;
    snprintf(srv->hosts[srv->nhosts++], sizeof srv->hosts[0], "%s:%u", a, port);
    return 0;
}

/* --origin scheme://host[:port]: an Origin and a Host of its own. */
static int
add_origin(con_server *srv, const char *url)
{
    const char *h;
    size_t n = strlen(url);

    while (n > 0 && url[n - 1] == '/')
        n--;
    if (strncmp(url, "http://", 7) == 0)
        h = url + 7;
    else if (strncmp(url, "https://", 8) == 0)
        h = url + 8;
    else
        return -1;
    if (h >= url + n || memchr(h, '/', (size_t)(url + n - h)) != NULL ||
        n >= sizeof srv->origins[0] || srv->norigins >= CON_HOSTS_MAX ||
        srv->nhosts >= CON_HOSTS_MAX)
        return -1;
    memcpy(srv->origins[srv->norigins], url, n);
    srv->origins[srv->norigins++][n] = '\0';
    snprintf(srv->hosts[srv->nhosts++], sizeof srv->hosts[0], "%.*s",
             (int)(url + n - h), h);
    return 0;
}

int
cli_cmd_console(cli *ctx, int argc, char **argv)
{
    static const struct option longopts[] = {
        {"listen", required_argument, NULL, 'l'},
        {"origin", required_argument, NULL, 'o'},
        {"idle-timeout", required_argument, NULL, 'i'},
        {"max-sessions", required_argument, NULL, 'm'},
        {"log-level", required_argument, NULL, 'L'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    static con_server srv;
    const char *listen = "127.0.0.1:8080";
    const char *origins[CON_HOSTS_MAX];
    int norigins = 0, opt, rc, lb;
    int64_t max_sessions = 32;
    double idle = 900;
    struct sockaddr_storage ss;
    socklen_t slen = 0;
    char host[256];
    unsigned port = 0;
    struct sigaction sa;
    void *d;

    cli_getopt_reset();
    while ((opt = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
        switch (opt) {
        case 'h':
            fputs(console_usage, stdout);
            return CLI_OK;
        case 'l':
            listen = optarg;
            break;
        case 'o':
            if (norigins == CON_HOSTS_MAX - 3)
                return cli_usage_error("console", "too many --origin");
            origins[norigins++] = optarg;
            break;
        case 'i':
            if ((rc = cli_parse_double("--idle-timeout", optarg, 1, 86400,
                                       &idle)) != CLI_OK)
                return rc;
            break;
        case 'm':
            if ((rc = cli_parse_int("--max-sessions", optarg, 1, 1000,
                                    &max_sessions)) != CLI_OK)
                return rc;
            break;
        case 'L':
            if (wlog_set_level(optarg) != 0)
                return cli_usage_error("console", "unknown log level \"%s\"",
                                       optarg);
            break;
        case ':':
            return cli_usage_error("console", "%s needs a value",
                                   argv[optind - 1]);
        default:
            return cli_usage_error("console", "unknown option \"%s\"",
                                   argv[optind - 1]);
        }
    }
    if (optind < argc)
        return cli_usage_error("console", "unexpected argument \"%s\"",
                               argv[optind]);
    if (parse_listen(listen, &ss, &slen, host, sizeof host) != 0)
        return cli_usage_error("console",
                               "--listen wants ADDR:PORT or [ADDR6]:PORT, "
                               "with a numeric address");
    lb = loopback(&ss);
    if (lb < 0 && norigins == 0)
        return cli_usage_error("console",
                               "listening on every address needs --origin "
                               "URL: the address browsers use");
    if (sodium_init() < 0)
        return cli_fail(CLI_ERR, "console: libsodium did not initialise");

    srv.dsn = ctx->dsn;
    snprintf(srv.schema, sizeof srv.schema, "%s", ctx->schema);
    /* The name is [a-z_][a-z0-9_]* (txq.c): quoting it needs no escapes. */
    snprintf(srv.schema_ident, sizeof srv.schema_ident, "\"%s\"", ctx->schema);
    srv.idle_timeout = idle;
    srv.max_sessions = (int)max_sessions;

    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);

    d = con_http_start(&srv, &ss, (unsigned)slen, ss.ss_family == AF_INET6,
                       &port);
    if (d == NULL)
        return cli_fail(CLI_ERR, "console: cannot listen on %s", listen);
    if (lb >= 0)
        add_host(&srv, host, port);
    if (lb > 0)
        add_host(&srv, "localhost", port);
    for (int i = 0; i < norigins; i++)
        if (add_origin(&srv, origins[i]) != 0) {
            con_http_stop(d);
            return cli_usage_error("console",
                                   "--origin wants scheme://host[:port], "
                                   "got \"%s\"",
                                   origins[i]);
        }
    if (lb == 0 || (lb < 0 && norigins > 0))
        wlog(WLOG_WARN,
             "listening beyond loopback: sessions and passwords cross the "
             "network in clear unless TLS is put in front",
             "addr=%s", host);
    {
        char url[320];

        snprintf(url, sizeof url, "http://%s/", srv.hosts[0]);
        wlog(WLOG_INFO, "listening", "addr=%s port=%u schema=%s url=%s", host,
             port, srv.schema, url);
    }

    while (!stop) {
        struct timespec ts = {1, 0};

        nanosleep(&ts, NULL);
        con_sessions_sweep(&srv);
    }
    wlog(WLOG_INFO, "stopping", NULL);
    con_http_stop(d);
    con_sessions_free();
    return CLI_OK;
}
