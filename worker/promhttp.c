/*
 * promhttp.c - the metrics listener of txq-worker and txq-sqs (see
 * promhttp.h): libmicrohttpd with its own polling thread, a few
 * connections and a short timeout; a scrape or a probe is small.
 */
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "log.h"
#include "promhttp.h"
#include "promtext.h"

/* libmicrohttpd's last message, for prom_http_start's error. One per
 * process: each program has one metrics listener. */
static char last_error[256];

enum MHD_Result
prom_respond(struct MHD_Connection *conn,
             unsigned int status,
             const char *type,
             char *body,
             size_t len)
{
    struct MHD_Response *r;
    enum MHD_Result ret;

    r = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
    if (r == NULL) {
        free(body);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    ret = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return ret;
}

enum MHD_Result
prom_respond_text(struct MHD_Connection *conn,
                  unsigned int status,
                  const char *s)
{
    char *body = strdup(s);

    if (body == NULL)
        return MHD_NO;
    return prom_respond(conn, status, "text/plain; charset=utf-8", body,
                        strlen(body));
}

enum MHD_Result
prom_respond_metrics(struct MHD_Connection *conn, char *body, size_t len)
{
    if (body == NULL)
        return prom_respond_text(conn, MHD_HTTP_INTERNAL_SERVER_ERROR,
                                 "out of memory\n");
    return prom_respond(conn, MHD_HTTP_OK, "text/plain; version=0.0.4", body,
                        len);
}

/* libmicrohttpd's messages as log events (its default writes raw lines
 * to stderr); the last kept for prom_http_start's error. */
static void
on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    char msg[256];
    size_t n;

    (void)cls;
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
    vsnprintf(msg, sizeof msg, fmt, ap);
#pragma GCC diagnostic pop
    n = strlen(msg);
    while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == '.'))
        msg[--n] = '\0';
    snprintf(last_error, sizeof last_error, "%s", msg);
    wlog(WLOG_WARN, "metrics server", "err=%s", msg);
}

static int
is_loopback(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in =
            (const struct sockaddr_in *)(const void *)sa;

        return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
    }
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 =
            (const struct sockaddr_in6 *)(const void *)sa;

        return IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr);
    }
    return 0;
}

struct MHD_Daemon *
prom_http_start(const char *listen,
                MHD_AccessHandlerCallback handler,
                void *cls,
                char *err,
                size_t errsize)
{
    char host[256], port[8], shown[300];
    struct addrinfo hints, *ai = NULL;
    const union MHD_DaemonInfo *info;
    struct MHD_Daemon *d;
    sigset_t all, old;
    unsigned int flags;
    int rc;

    if (prom_parse_listen(listen, host, sizeof host, port, sizeof port, err,
                          errsize) != 0)
        return NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    if ((rc = getaddrinfo(host, port, &hints, &ai)) != 0) {
        snprintf(err, errsize, "metrics_listen %s: %s", listen,
                 gai_strerror(rc));
        return NULL;
    }
    flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_USE_ERROR_LOG;
    if (ai->ai_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    last_error[0] = '\0';
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    d = MHD_start_daemon(
        flags, 0, NULL, NULL, handler, cls, MHD_OPTION_EXTERNAL_LOGGER,
        on_mhd_log, NULL, MHD_OPTION_SOCK_ADDR, ai->ai_addr,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned int)32,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)10, MHD_OPTION_END);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (d == NULL) {
        snprintf(err, errsize, "metrics_listen %s: cannot listen%s%s", listen,
                 last_error[0] ? ": " : "", last_error);
        freeaddrinfo(ai);
        return NULL;
    }
    info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    snprintf(shown, sizeof shown,
             ai->ai_family == AF_INET6 ? "[%s]:%u" : "%s:%u", host,
             info != NULL ? (unsigned)info->port : 0u);
    if (is_loopback(ai->ai_addr))
        wlog(WLOG_INFO, "metrics listening", "addr=%s paths=%s", shown,
             "/metrics,/healthz,/readyz");
    else
        wlog(WLOG_WARN, "metrics listening beyond loopback", "addr=%s hint=%s",
             shown,
             "whoever reaches this address reads queue names and counts: "
             "keep it behind a firewall, or listen on 127.0.0.1");
    freeaddrinfo(ai);
    return d;
}
