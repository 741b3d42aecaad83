/*
 * http.h - txq-sqs's HTTP side (http.c), started and stopped by main.c.
 */
#ifndef TXQ_SQS_HTTP_H
#define TXQ_SQS_HTTP_H

#include <sys/socket.h>

#include "sqs.h"

struct MHD_Daemon;

/* Listen on addr (ipv6: an AF_INET6 address) and serve until stopped;
 * host is what queue URLs name when a request has no Host header.
 * Returns the daemon, or NULL. */
struct MHD_Daemon *sqs_http_start(sqs_server *srv,
                                  const struct sockaddr *addr,
                                  int ipv6,
                                  const char *host,
                                  unsigned max_conns);

/* Requests being served now. */
int sqs_http_active(void);

#endif /* TXQ_SQS_HTTP_H */
