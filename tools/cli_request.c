/*
 * cli_request.c - `txq request QUEUE BODY`: send a request through the C
 * requester (reply_to and a correlation id), wait for its reply on a
 * reply queue (woken by LISTEN/NOTIFY), print the reply's body.
 *
 * Without --reply-queue the reply queue is reply_<pid>, created for the
 * command and dropped when it ends. A named reply queue is created when
 * missing (and then dropped at the end too), else used as it is.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

static const char request_usage[] =
    "usage: txq request QUEUE [BODY|-] [--timeout S] [--reply-queue NAME]\n"
    "                   [--header K=V]... [--priority N] [--group G]\n"
    "\n"
    "Send a request to QUEUE (the body is BODY, or all of standard input\n"
    "when BODY is - or absent) with reply_to and a correlation id, wait for\n"
    "the reply and print its body as it is. A handler replies with\n"
    "txq.reply(m.reply_to, m.correlation_id, body) or txq_reply().\n"
    "\n"
    "  --timeout S          how long to wait (default 30); no reply in time\n"
    "                       is an error (exit 1)\n"
    "  --reply-queue NAME   the queue replies come to (default reply_<pid>,\n"
    "                       created and dropped by the command)\n"
    "  --header K=V, --priority N, --group G  as for `txq send`\n";

#define DEFAULT_TIMEOUT 30.0
#define MAX_TIMEOUT     86400.0

/* What the callbacks report back. */
struct outcome {
    int done;   /* 1 reply, 2 timeout */
    char *body; /* the reply, malloc'd */
    size_t len;
    int oom;
};

static void
on_reply(void *arg, const char *correlation_id, const txq_msg *reply)
{
    struct outcome *o = arg;
    size_t len;
    const void *body = txq_msg_body(reply, &len);

    (void)correlation_id;
    o->done = 1;
    o->body = malloc(len + 1);
    if (o->body == NULL) {
        o->oom = 1;
        return;
    }
    memcpy(o->body, body, len);
    o->len = len;
}

static void
on_timeout(void *arg, const char *correlation_id)
{
    struct outcome *o = arg;

    (void)correlation_id;
    o->done = 2;
}

/* Send the request and wait; the reply queue exists. */
static int
ask(cli *ctx,
    const char *reply_queue,
    const char *queue,
    const char *body,
    size_t len,
    const txq_send_opts *so,
    double timeout)
{
    struct outcome o = {0};
    char corr[TXQ_CORRELATION_ID_SIZE];
    txq_requester *r = txq_requester_new(ctx->c, reply_queue, NULL);
    txq_err err;
    int rc = CLI_OK;

    if (r == NULL)
        return cli_fail(CLI_ERR, "out of memory");
    err = txq_requester_open(r, ctx->pg);
    if (err == TXQ_OK)
        err = txq_request(r, NULL, queue, body, len, so, timeout, on_reply,
                          on_timeout, &o, corr);
    /* The timeout callback fires after timeout seconds; the margin only
     * covers a slow last round trip. */
    while (err == TXQ_OK && o.done == 0)
        err = txq_requester_wait(r, timeout + 5);
    if (err != TXQ_OK) {
        rc = cli_txq_fail(ctx, err, "request");
    } else if (o.oom) {
        rc = cli_fail(CLI_ERR, "request: out of memory for the reply");
    } else if (o.done == 2) {
        rc = cli_fail(CLI_ERR,
                      "request: no reply within %g seconds (queue %s, "
                      "reply queue %s, correlation id %s)",
                      timeout, queue, reply_queue, corr);
    } else if (o.len > 0 && fwrite(o.body, 1, o.len, stdout) != o.len) {
        rc = cli_fail(CLI_ERR, "cannot write output");
    }
    txq_requester_free(r);
    free(o.body);
    return rc;
}

int
cli_cmd_request(cli *ctx, int argc, char **argv)
{
    enum { O_TIMEOUT = 1000, O_REPLYQ, O_HDR, O_PRIO, O_GROUP };
    static const struct option longopts[] = {
        {"timeout", required_argument, NULL, O_TIMEOUT},
        {"reply-queue", required_argument, NULL, O_REPLYQ},
        {"header", required_argument, NULL, O_HDR},
        {"priority", required_argument, NULL, O_PRIO},
        {"group", required_argument, NULL, O_GROUP},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    txq_send_opts so = TXQ_SEND_OPTS_INIT;
    double timeout = DEFAULT_TIMEOUT;
    char reply_queue[CLI_QUEUE_NAME_MAX];
    const char *named = NULL;
    char **hdr = calloc((size_t)argc + 1, sizeof *hdr);
    cli_buf headers = {0};
    char *body = NULL, *owned = NULL;
    size_t len = 0;
    int opt, nhdr = 0, rc = CLI_OK, created = 0;
    int64_t prio;
    txq_err err;

    if (hdr == NULL)
        return cli_fail(CLI_ERR, "out of memory");
    cli_getopt_reset();
    while ((opt = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
        switch (opt) {
        case 'h':
            fputs(request_usage, stdout);
            goto out;
        case O_TIMEOUT:
            rc = cli_parse_double("--timeout", optarg, 0.001, MAX_TIMEOUT,
                                  &timeout);
            break;
        case O_REPLYQ:
            rc = cli_check_queue_name(optarg);
            named = optarg;
            break;
        case O_HDR:
            hdr[nhdr++] = optarg;
            break;
        case O_PRIO:
            rc = cli_parse_int("--priority", optarg, -32768, 32767, &prio);
            so.priority = (int)prio;
            break;
        case O_GROUP:
            so.group = optarg;
            break;
        case ':':
            rc = cli_usage_error("request", "%s needs a value",
                                 argv[optind - 1]);
            break;
        default:
            rc = cli_usage_error("request", "unknown option \"%s\"",
                                 argv[optind - 1]);
        }
        if (rc != CLI_OK)
            goto out;
    }
    if (argc - optind < 1 || argc - optind > 2) {
        rc = cli_usage_error("request", "expected QUEUE [BODY|-]");
        goto out;
    }
    if ((rc = cli_check_queue_name(argv[optind])) != CLI_OK)
        goto out;
    if (nhdr > 0) {
        rc = cli_build_headers("request", hdr, nhdr, &headers);
        if (rc != CLI_OK)
            goto out;
        so.headers_json = headers.data;
    }
    if (argc - optind == 2 && strcmp(argv[optind + 1], "-") != 0) {
        body = argv[optind + 1];
        len = strlen(body);
    } else {
        if ((rc = cli_read_stdin(&owned, &len)) != CLI_OK)
            goto out;
        body = owned;
    }
    if (named != NULL && strlen(named) >= sizeof reply_queue) {
        rc = cli_usage_error("request",
                             "--reply-queue: a queue name has at "
                             "most %d characters",
                             CLI_QUEUE_NAME_MAX - 1);
        goto out;
    }
    if (named != NULL)
        snprintf(reply_queue, sizeof reply_queue, "%s", named);
    else
        snprintf(reply_queue, sizeof reply_queue, "reply_%ld", (long)getpid());
    if ((rc = cli_connect(ctx, 1)) != CLI_OK)
        goto out;

    err = txq_queue_create(ctx->c, ctx->pg, reply_queue, NULL);
    if (err == TXQ_OK) {
        created = 1;
    } else if (err == TXQ_EEXIST) {
        /* A per-process name left by an earlier process with this pid is
         * ours now; a named queue is somebody's: keep it. */
        created = named == NULL;
    } else {
        rc = cli_txq_fail(ctx, err, "request: creating the reply queue");
        goto out;
    }
    rc = ask(ctx, reply_queue, argv[optind], body != NULL ? body : "", len, &so,
             timeout);
    if (created) {
        err = txq_queue_drop(ctx->c, ctx->pg, reply_queue, 1);
        if (err != TXQ_OK && rc == CLI_OK)
            rc = cli_txq_fail(ctx, err, "request: dropping the reply queue");
    }
out:
    free(owned);
    cli_buf_free(&headers);
    free(hdr);
    return rc;
}
