/*
 * cli_msg.c - `txq send`, `txq publish`, `txq recv` and `txq peek`: put one
 * message on a queue or a topic, and claim messages or look at them without
 * claiming, printing each as one JSON object per line.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char send_usage[] =
    "usage: txq send QUEUE [BODY|-] [OPTIONS]\n"
    "\n"
    "Enqueue one message and print its id. The body is BODY, or all of\n"
    "standard input (any bytes) when BODY is - or absent.\n"
    "\n"
    "  --group G            FIFO message group / routing key\n"
    "  --dedup ID           FIFO deduplication id\n"
    "  --delay S            seconds before it becomes visible (default:\n"
    "                       the queue's delay; 0: at once)\n"
    "  --priority N         higher first, -32768..32767 (default 0)\n"
    "  --header K=V         a header (repeatable; the last K wins)\n"
    "  --correlation-id C   request/reply correlation id\n"
    "  --reply-to Q         request/reply: the queue for the reply\n"
    "  --key-file FILE      keys (mode 0600) that seal the body for an\n"
    "                       encrypted queue (docs/security.md)\n";

static const char publish_usage[] =
    "usage: txq publish TOPIC [BODY|-] [OPTIONS]\n"
    "\n"
    "Publish one message to a topic and print the id of each copy, one per\n"
    "line: a fanout topic puts a copy in every subscribed queue whose\n"
    "filter the headers contain (no match prints nothing and is counted);\n"
    "a route topic puts it in the first matching rule's queue, else the\n"
    "default queue, else fails. The body is BODY, or all of standard input\n"
    "when BODY is - or absent. Options are those of `txq send`:\n"
    "\n"
    "  --group G  --dedup ID  --delay S  --priority N  --header K=V...\n"
    "  --correlation-id C  --reply-to Q\n";

static const char recv_usage[] =
    "usage: txq recv QUEUE [--max N] [--wait S] [--visibility-timeout S]\n"
    "                      [--ack] [--key-file FILE]\n"
    "\n"
    "Claim up to N ready messages (default 1) and print each as one JSON\n"
    "object per line: id, queue, attempts, headers, and body as a string\n"
    "when it is UTF-8 text without NUL, else body_base64; correlation_id,\n"
    "reply_to and group when set. The claim commits at once: without --ack\n"
    "the messages stay invisible for the visibility timeout, then come\n"
    "back; with --ack they are acknowledged after being printed.\n"
    "--wait S waits up to S seconds for a message when none is ready.\n"
    "Nothing received is not an error (no output, exit 0).\n"
    "--key-file FILE opens the bodies of an encrypted queue; a message that\n"
    "does not open is not printed (nor acked): each is named on stderr and\n"
    "the exit code is 1.\n";

static const char peek_usage[] =
    "usage: txq peek QUEUE [-n N]\n"
    "\n"
    "Print up to N messages of QUEUE (default 10, at most 1000) without\n"
    "claiming, locking or counting them, the ready ones first in the order\n"
    "recv would take them, then the others by when they become visible;\n"
    "one JSON object per line: id, queue, state (ready, delayed, in_flight\n"
    "or retrying), attempts, priority, visible_at, enqueued_at, group,\n"
    "correlation_id, reply_to, last_error (null when unset), headers, and\n"
    "body or body_base64 as recv prints them. Needs the monitor privilege\n"
    "on QUEUE (`txq grants`). An empty queue prints nothing (exit 0).\n"
    "\n"
    "  -n, --max N   how many messages at most\n";

static const char peek_sql[] =
    "select id, $1::text as queue, state, attempts, priority, visible_at,"
    " enqueued_at, group_key as \"group\", correlation_id, reply_to,"
    " last_error, headers, body from @s@.peek($1, $2::int)";

/* Longest wait or delay accepted here; the server checks exact bounds. */
#define MAX_SECONDS 1e9

int
cli_read_stdin(char **out, size_t *len)
{
    cli_buf b = {0};
    char chunk[65536];
    size_t n;

    while ((n = fread(chunk, 1, sizeof chunk, stdin)) > 0) {
        if (b.len + n > CLI_BODY_MAX) {
            cli_buf_free(&b);
            return cli_fail(CLI_ERR,
                            "body on standard input is larger than "
                            "%zu bytes",
                            CLI_BODY_MAX);
        }
        cli_buf_putn(&b, chunk, n);
    }
    if (ferror(stdin)) {
        cli_buf_free(&b);
        return cli_fail(CLI_ERR, "cannot read standard input");
    }
    if (b.oom) {
        cli_buf_free(&b);
        return cli_fail(CLI_ERR, "out of memory reading standard input");
    }
    *out = b.data;
    *len = b.len;
    return CLI_OK;
}

int
cli_build_headers(const char *cmd, char **hdr, int n, cli_buf *json)
{
    cli_buf_putn(json, "{", 1);
    for (int i = 0; i < n; i++) {
        const char *eq = strchr(hdr[i], '=');
        size_t klen;
        int later = 0;

        if (eq == NULL || eq == hdr[i])
            return cli_usage_error(cmd,
                                   "--header: expected KEY=VALUE, got "
                                   "\"%.100s\"",
                                   hdr[i]);
        if (!cli_utf8_valid(hdr[i], strlen(hdr[i]), 1))
            return cli_fail(CLI_USAGE,
                            "--header: \"%.100s\" is not valid "
                            "UTF-8",
                            hdr[i]);
        klen = (size_t)(eq - hdr[i]);
        for (int j = i + 1; j < n && !later; j++)
            later = strncmp(hdr[j], hdr[i], klen) == 0 && hdr[j][klen] == '=';
        if (later)
            continue;
        if (json->len > 1)
            cli_buf_putn(json, ",", 1);
        cli_json_str(json, hdr[i], klen);
        cli_buf_putn(json, ":", 1);
        cli_json_str(json, eq + 1, strlen(eq + 1));
    }
    cli_buf_putn(json, "}", 1);
    if (json->oom)
        return cli_fail(CLI_ERR, "out of memory");
    return CLI_OK;
}

/* Publish and print the id of every copy. */
static int
publish_one(cli *ctx,
            const char *topic,
            const char *body,
            size_t len,
            const txq_send_opts *so)
{
    enum { CAP = 4096 };
    int64_t *ids = malloc(CAP * sizeof *ids);
    size_t n = 0;
    txq_err err;

    if (ids == NULL)
        return cli_fail(CLI_ERR, "out of memory");
    err = txq_publish(ctx->c, ctx->pg, topic, body, len, so, ids, CAP, &n);
    if (err != TXQ_OK) {
        free(ids);
        return cli_txq_fail(ctx, err, "publish");
    }
    if (n == 0)
        fprintf(stderr,
                "txq: publish: no subscription of topic \"%s\" matched; "
                "counted as unmatched\n",
                topic);
    for (size_t i = 0; i < n && i < CAP; i++)
        printf("%" PRId64 "\n", ids[i]);
    if (n > CAP)
        fprintf(stderr, "txq: publish: %zu more copies not listed\n", n - CAP);
    free(ids);
    return CLI_OK;
}

/* send QUEUE or publish TOPIC: the same options and body. */
static int
send_or_publish(cli *ctx, int argc, char **argv, int publish)
{
    const char *cmd = publish ? "publish" : "send";
    enum {
        O_GROUP = 1000,
        O_DEDUP,
        O_DELAY,
        O_PRIO,
        O_HDR,
        O_CORR,
        O_REPLY,
        O_KEYS
    };
    static const struct option longopts[] = {
        {"group", required_argument, NULL, O_GROUP},
        {"dedup", required_argument, NULL, O_DEDUP},
        {"delay", required_argument, NULL, O_DELAY},
        {"priority", required_argument, NULL, O_PRIO},
        {"header", required_argument, NULL, O_HDR},
        {"correlation-id", required_argument, NULL, O_CORR},
        {"reply-to", required_argument, NULL, O_REPLY},
        {"key-file", required_argument, NULL, O_KEYS},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    txq_send_opts so = TXQ_SEND_OPTS_INIT;
    const char *key_file = NULL;
    char **hdr = calloc((size_t)argc + 1, sizeof *hdr);
    cli_buf headers = {0};
    char *body = NULL, *owned = NULL;
    size_t len = 0;
    int opt, nhdr = 0, rc;
    int64_t prio, id;
    txq_err err;

    if (hdr == NULL)
        return cli_fail(CLI_ERR, "out of memory");
    cli_getopt_reset();
    while ((opt = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
        rc = CLI_OK;
        switch (opt) {
        case 'h':
            fputs(publish ? publish_usage : send_usage, stdout);
            goto out;
        case O_GROUP:
            so.group = optarg;
            break;
        case O_DEDUP:
            so.dedup_id = optarg;
            break;
        case O_DELAY:
            rc = cli_parse_double("--delay", optarg, 0, MAX_SECONDS, &so.delay);
            /* --delay 0: now, whatever the queue's default delay. */
            so.set |= TXQ_SEND_SET_DELAY;
            break;
        case O_PRIO:
            rc = cli_parse_int("--priority", optarg, -32768, 32767, &prio);
            so.priority = (int)prio;
            break;
        case O_HDR:
            hdr[nhdr++] = optarg;
            break;
        case O_CORR:
            so.correlation_id = optarg;
            break;
        case O_REPLY:
            rc = cli_check_queue_name(optarg);
            so.reply_to = optarg;
            break;
        case O_KEYS:
            key_file = optarg;
            break;
        case ':':
            rc = cli_usage_error(cmd, "%s needs a value", argv[optind - 1]);
            break;
        default:
            rc =
                cli_usage_error(cmd, "unknown option \"%s\"", argv[optind - 1]);
        }
        if (rc != CLI_OK)
            goto out;
    }
    rc = CLI_USAGE;
    if (argc - optind < 1 || argc - optind > 2) {
        cli_usage_error(cmd, "expected %s [BODY|-]",
                        publish ? "TOPIC" : "QUEUE");
        goto out;
    }
    rc = publish ? cli_check_topic_name(argv[optind])
                 : cli_check_queue_name(argv[optind]);
    if (rc != CLI_OK)
        goto out;
    if (nhdr > 0) {
        rc = cli_build_headers(cmd, hdr, nhdr, &headers);
        if (rc != CLI_OK)
            goto out;
        so.headers_json = headers.data;
    }
    if (argc - optind == 2 && strcmp(argv[optind + 1], "-") != 0) {
        body = argv[optind + 1];
        len = strlen(body);
    } else {
        rc = cli_read_stdin(&owned, &len);
        if (rc != CLI_OK)
            goto out;
        body = owned;
    }
    rc = cli_connect(ctx, 1);
    if (rc == CLI_OK)
        rc = cli_use_keys(ctx, key_file);
    if (rc != CLI_OK)
        goto out;
    if (publish) {
        rc = publish_one(ctx, argv[optind], body != NULL ? body : "", len, &so);
        goto out;
    }
    err = txq_send(ctx->c, ctx->pg, argv[optind], body != NULL ? body : "", len,
                   &so, &id);
    if (err != TXQ_OK) {
        rc = cli_txq_fail(ctx, err, "send");
        goto out;
    }
    printf("%" PRId64 "\n", id);
out:
    free(owned);
    cli_buf_free(&headers);
    free(hdr);
    return rc;
}

int
cli_cmd_send(cli *ctx, int argc, char **argv)
{
    return send_or_publish(ctx, argc, argv, 0);
}

int
cli_cmd_publish(cli *ctx, int argc, char **argv)
{
    return send_or_publish(ctx, argc, argv, 1);
}

/* Append message m as one JSON line. */
static void
msg_json(cli_buf *b, const txq_msg *m)
{
    size_t len;
    const char *body = txq_msg_body(m, &len);
    const char *headers = txq_msg_headers(m);
    const char *s;

    cli_buf_printf(b, "{\"id\":%" PRId64, txq_msg_id(m));
    cli_json_key(b, "queue");
    s = txq_msg_queue(m);
    cli_json_str(b, s, strlen(s));
    cli_json_key(b, "attempts");
    cli_buf_printf(b, "%d", txq_msg_attempt(m));
    cli_json_key(b, "headers");
    cli_buf_puts(b, headers != NULL && headers[0] != '\0' ? headers : "{}");
    cli_json_body(b, body, len);
    if ((s = txq_msg_correlation_id(m)) != NULL) {
        cli_json_key(b, "correlation_id");
        cli_json_str(b, s, strlen(s));
    }
    if ((s = txq_msg_reply_to(m)) != NULL) {
        cli_json_key(b, "reply_to");
        cli_json_str(b, s, strlen(s));
    }
    if ((s = txq_msg_group(m)) != NULL && s[0] != '\0') {
        cli_json_key(b, "group");
        cli_json_str(b, s, strlen(s));
    }
    cli_buf_puts(b, "}\n");
}

/* Ack the n printed messages in one transaction. */
static int
ack_all(cli *ctx, txq_msg **msgs, size_t n)
{
    size_t acked = 0;
    txq_err err;
    int rc;

    rc = cli_begin(ctx);
    if (rc != CLI_OK)
        return rc;
    err = txq_ack_batch(ctx->c, ctx->pg, msgs, n, &acked);
    if (err != TXQ_OK && err != TXQ_ESTATE) {
        cli_rollback(ctx);
        return cli_txq_fail(ctx, err, "recv --ack");
    }
    rc = cli_commit(ctx);
    if (rc != CLI_OK)
        return rc;
    if (err == TXQ_ESTATE)
        return cli_fail(CLI_ERR,
                        "recv --ack: acked %zu of %zu messages; the others' "
                        "claims lapsed and they will be delivered again",
                        acked, n);
    return CLI_OK;
}

/* The one QUEUE argument of recv and peek (argv[optind]), then the
 * connection. */
static int
queue_and_connect(cli *ctx, const char *cmd, int argc, char **argv)
{
    int rc;

    if (argc - optind != 1)
        return cli_usage_error(cmd, "expected one QUEUE");
    rc = cli_check_queue_name(argv[optind]);
    if (rc != CLI_OK)
        return rc;
    return cli_connect(ctx, 1);
}

int
cli_cmd_recv(cli *ctx, int argc, char **argv)
{
    enum { O_MAX = 1000, O_WAIT, O_VT, O_ACK, O_KEYS };
    static const struct option longopts[] = {
        {"max", required_argument, NULL, O_MAX},
        {"wait", required_argument, NULL, O_WAIT},
        {"visibility-timeout", required_argument, NULL, O_VT},
        {"ack", no_argument, NULL, O_ACK},
        {"key-file", required_argument, NULL, O_KEYS},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    txq_recv_opts ro = TXQ_RECV_OPTS_INIT;
    const char *key_file = NULL;
    size_t good = 0;
    int64_t max = 1;
    int opt, ack = 0, rc;
    txq_msg **msgs = NULL;
    size_t n = 0;
    cli_buf b = {0};
    txq_err err;

    cli_getopt_reset();
    while ((opt = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
        rc = CLI_OK;
        switch (opt) {
        case 'h':
            fputs(recv_usage, stdout);
            return CLI_OK;
        case O_MAX:
            rc = cli_parse_int("--max", optarg, 1, 100000, &max);
            break;
        case O_WAIT:
            rc = cli_parse_double("--wait", optarg, 0, MAX_SECONDS, &ro.wait);
            break;
        case O_VT:
            rc = cli_parse_double("--visibility-timeout", optarg, 0.001,
                                  MAX_SECONDS, &ro.visibility_timeout);
            break;
        case O_ACK:
            ack = 1;
            break;
        case O_KEYS:
            key_file = optarg;
            break;
        case ':':
            rc = cli_usage_error("recv", "%s needs a value", argv[optind - 1]);
            break;
        default:
            rc = cli_usage_error("recv", "unknown option \"%s\"",
                                 argv[optind - 1]);
        }
        if (rc != CLI_OK)
            return rc;
    }
    rc = queue_and_connect(ctx, "recv", argc, argv);
    if (rc == CLI_OK)
        rc = cli_use_keys(ctx, key_file);
    if (rc != CLI_OK)
        return rc;
    err = txq_claim(ctx->c, ctx->pg, argv[optind], (size_t)max, &ro, &msgs, &n);
    if (err == TXQ_EMPTY)
        return CLI_OK;
    if (err != TXQ_OK && err != TXQ_EDECRYPT)
        return cli_txq_fail(ctx, err, "recv");
    /* Those that did not open are left claimed (they come back, and end
     * in the queue's exhausted policy): the others are printed first. */
    for (size_t i = 0; i < n; i++) {
        txq_msg *t = msgs[i];

        if (txq_msg_decrypt_error(t) != NULL)
            continue;
        msg_json(&b, t);
        msgs[i] = msgs[good];
        msgs[good++] = t;
    }
    rc = cli_buf_write(&b);
    /* Ack only what has reached the reader. */
    if (rc == CLI_OK && fflush(stdout) != 0)
        rc = cli_fail(CLI_ERR, "cannot write output");
    if (rc == CLI_OK && ack && good > 0)
        rc = ack_all(ctx, msgs, good);
    if (rc == CLI_OK && good < n)
        rc = cli_fail(CLI_ERR,
                      "recv: message %" PRId64 " of queue \"%s\" (and %zu "
                      "more) could not be decrypted: %s",
                      txq_msg_id(msgs[good]), txq_msg_queue(msgs[good]),
                      n - good - 1, txq_msg_decrypt_error(msgs[good]));
    cli_buf_free(&b);
    txq_msgs_free(msgs, n);
    return rc;
}

int
cli_cmd_peek(cli *ctx, int argc, char **argv)
{
    static const struct option longopts[] = {
        {"max", required_argument, NULL, 'n'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    const char *params[2];
    char maxtext[24];
    int64_t max = 10;
    int opt, rc;
    PGresult *res;

    cli_getopt_reset();
    while ((opt = getopt_long(argc, argv, ":hn:", longopts, NULL)) != -1) {
        switch (opt) {
        case 'h':
            fputs(peek_usage, stdout);
            return CLI_OK;
        case 'n':
            rc = cli_parse_int("-n", optarg, 1, 1000, &max);
            if (rc != CLI_OK)
                return rc;
            break;
        case ':':
            return cli_usage_error("peek", "%s needs a value",
                                   argv[optind - 1]);
        default:
            return cli_usage_error("peek", "unknown option \"%s\"",
                                   argv[optind - 1]);
        }
    }
    rc = queue_and_connect(ctx, "peek", argc, argv);
    if (rc != CLI_OK)
        return rc;
    snprintf(maxtext, sizeof maxtext, "%" PRId64, max);
    params[0] = argv[optind];
    params[1] = maxtext;
    res = cli_query(ctx, "peek", peek_sql, 2, params);
    if (res == NULL)
        return CLI_ERR;
    rc = cli_print_result(res, 1, 0);
    PQclear(res);
    return rc;
}
