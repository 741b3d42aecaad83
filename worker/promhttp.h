/*
 * promhttp.h - the HTTP side that txq-worker's and txq-sqs's metrics
 * endpoints share: a libmicrohttpd daemon on a metrics_listen address, in
 * a thread of its own, and the responses. What each program serves is its
 * own handler's business (worker/metrics.c, sqs/metrics.c).
 */
#ifndef TXQ_PROMHTTP_H
#define TXQ_PROMHTTP_H

#include <stddef.h>

#include <microhttpd.h>

/*
 * prom_http_start - listen on listen (a metrics_listen value, see
 * prom_parse_listen) and serve with handler (given cls) in a thread that
 * is started with every signal blocked, so that signals still reach the
 * program's own handlers. Logs where it listens, with a warning beyond
 * loopback. Returns the daemon (MHD_stop_daemon stops it), or NULL with
 * the problem in err.
 */
struct MHD_Daemon *prom_http_start(const char *listen,
                                   MHD_AccessHandlerCallback handler,
                                   void *cls,
                                   char *err,
                                   size_t errsize);

/* Queue body (malloc'd; freed here, also on failure) as the response. */
enum MHD_Result prom_respond(struct MHD_Connection *conn,
                             unsigned int status,
                             const char *type,
                             char *body,
                             size_t len);

/* A text/plain response with a copy of s. */
enum MHD_Result prom_respond_text(struct MHD_Connection *conn,
                                  unsigned int status,
                                  const char *s);

/* An exposition (malloc'd, or NULL: out of memory) as the response. */
enum MHD_Result
prom_respond_metrics(struct MHD_Connection *conn, char *body, size_t len);

#endif /* TXQ_PROMHTTP_H */
