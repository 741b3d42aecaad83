/*
 * http.c - txq-sqs on libmicrohttpd: reads each request whole,
 * authenticates it (SigV4), turns it into the action layer's JSON shape
 * and renders the result in the request's protocol: AWS JSON 1.0
 * (X-Amz-Target: AmazonSQS.<Action>) or the query protocol (a form with
 * Action=..., answered in XML through libxml2's writer). One thread per
 * connection: a long poll blocks only its own.
 */
#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libxml/xmlwriter.h>
#include <microhttpd.h>
#include <openssl/rand.h>

#include "http.h"
#include "log.h"
#include "sqs.h"

#define BODY_MAX (4 * 1024 * 1024)
#define XMLNS    "http://queue.amazonaws.com/doc/2012-11-05/"
/* libxml2's BAD_CAST casts const away; its writer takes const. */
#define XC(s) ((const xmlChar *)(s))

struct conn_ctx {
    char *uri; /* raw, as sent */
    unsigned char *body;
    size_t len, cap;
    int started, too_big;
    double t0;
};

static pthread_mutex_t active_mu = PTHREAD_MUTEX_INITIALIZER;
static int active;
static sqs_server *server;
static const char *listen_host;

int
sqs_http_active(void)
{
    int n;

    pthread_mutex_lock(&active_mu);
    n = active;
    pthread_mutex_unlock(&active_mu);
    return n;
}

static void
count_active(int d)
{
    pthread_mutex_lock(&active_mu);
    active += d;
    pthread_mutex_unlock(&active_mu);
}

/* === rendering === */

struct out {
    int status;
    char *body;
    size_t len;
    const char *ctype;
    char query_error[160];
};

static void
xml_value(xmlTextWriterPtr w, const char *action, const char *k, json_t *v);

static const struct {
    const char *json, *element, *key, *value;
} xml_maps[] = {
    {"Attributes", "Attribute", "Name", "Value"},
    {"MessageAttributes", "MessageAttribute", "Name", "Value"},
    {"Tags", "Tag", "Key", "Value"},
};

static void
xml_object(xmlTextWriterPtr w, const char *action, json_t *obj)
{
    const char *k;
    json_t *v;

    json_object_foreach(obj, k, v) xml_value(w, action, k, v);
}

static void
xml_value(xmlTextWriterPtr w, const char *action, const char *k, json_t *v)
{
    const xmlChar *name = (const xmlChar *)k;
    char entry[96];
    json_t *x;
    const char *ak;
    size_t i;

    /* Maps are flattened: one element per entry, with the key and the
     * value (a string, or a structure: message attributes' values). */
    for (i = 0; i < sizeof xml_maps / sizeof xml_maps[0]; i++) {
        if (strcmp(k, xml_maps[i].json) != 0 || !json_is_object(v))
            continue;
        json_object_foreach(v, ak, x)
        {
            xmlTextWriterStartElement(w, XC(xml_maps[i].element));
            xmlTextWriterWriteElement(w, XC(xml_maps[i].key), XC(ak));
            xml_value(w, action, xml_maps[i].value, x);
            xmlTextWriterEndElement(w);
        }
        return;
    }
    if (json_is_array(v)) {
        if (strcmp(k, "QueueUrls") == 0 || strcmp(k, "queueUrls") == 0)
            snprintf(entry, sizeof entry, "QueueUrl");
        else if (strcmp(k, "Results") == 0)
            snprintf(entry, sizeof entry, "%sResultEntry", action);
        else if (strcmp(k, "Messages") == 0)
            snprintf(entry, sizeof entry, "Message");
        else if (strcmp(k, "Successful") == 0)
            snprintf(entry, sizeof entry, "%sResultEntry", action);
        else if (strcmp(k, "Failed") == 0)
            snprintf(entry, sizeof entry, "BatchResultErrorEntry");
        else
            snprintf(entry, sizeof entry, "member");
        json_array_foreach(v, i, x) xml_value(w, action, entry, x);
        return;
    }
    if (json_is_object(v)) {
        xmlTextWriterStartElement(w, name);
        xml_object(w, action, v);
        xmlTextWriterEndElement(w);
    } else if (json_is_string(v)) {
        xmlTextWriterWriteElement(w, name, XC(json_string_value(v)));
    } else if (json_is_boolean(v)) {
        xmlTextWriterWriteElement(w, name,
                                  XC(json_is_true(v) ? "true" : "false"));
    } else if (json_is_integer(v)) {
        xmlTextWriterWriteFormatElement(w, name, "%lld",
                                        (long long)json_integer_value(v));
    }
}

static int
xml_finish(xmlTextWriterPtr w, xmlBufferPtr b, struct out *o)
{
    xmlTextWriterEndDocument(w);
    xmlFreeTextWriter(w);
    o->len = (size_t)xmlBufferLength(b);
    o->body = malloc(o->len + 1);
    if (o->body != NULL)
        memcpy(o->body, xmlBufferContent(b), o->len + 1);
    xmlBufferFree(b);
    o->ctype = "text/xml";
    return o->body ? 0 : -1;
}

static int
no_result(const char *action)
{
    static const char *const none[] = {
        "AddPermission",      "ChangeMessageVisibility",
        "DeleteMessage",      "DeleteQueue",
        "PurgeQueue",         "RemovePermission",
        "SetQueueAttributes", "TagQueue",
        "UntagQueue"};
    size_t i;

    for (i = 0; i < sizeof none / sizeof none[0]; i++)
        if (strcmp(action, none[i]) == 0)
            return 1;
    return 0;
}

static int
render_xml(const sqs_req *req, struct out *o)
{
    xmlBufferPtr b = xmlBufferCreate();
    xmlTextWriterPtr w = b ? xmlNewTextWriterMemory(b, 0) : NULL;
    char el[96];

    if (w == NULL) {
        xmlBufferFree(b);
        return -1;
    }
    xmlTextWriterStartDocument(w, NULL, "UTF-8", NULL);
    if (req->err != SQS_OK) {
        const struct sqs_code_info *ci = sqs_code_info(req->err);

        xmlTextWriterStartElement(w, XC("ErrorResponse"));
        xmlTextWriterWriteAttribute(w, XC("xmlns"), XC(XMLNS));
        xmlTextWriterStartElement(w, XC("Error"));
        xmlTextWriterWriteElement(w, XC("Type"),
                                  XC(ci->sender ? "Sender" : "Receiver"));
        xmlTextWriterWriteElement(w, XC("Code"), XC(ci->query_code));
        xmlTextWriterWriteElement(w, XC("Message"), XC(req->errmsg));
        xmlTextWriterWriteElement(w, XC("Detail"), XC(""));
        xmlTextWriterEndElement(w);
        xmlTextWriterWriteElement(w, XC("RequestId"), XC(req->request_id));
        xmlTextWriterEndElement(w);
        o->status = ci->status;
        return xml_finish(w, b, o);
    }
    snprintf(el, sizeof el, "%sResponse", req->action);
    xmlTextWriterStartElement(w, XC(el));
    xmlTextWriterWriteAttribute(w, XC("xmlns"), XC(XMLNS));
    /* Actions with an output shape always carry their Result element,
     * empty or not; the others answer with the metadata alone. */
    if (json_object_size(req->out) > 0 || !no_result(req->action)) {
        snprintf(el, sizeof el, "%sResult", req->action);
        xmlTextWriterStartElement(w, XC(el));
        xml_object(w, req->action, req->out);
        xmlTextWriterEndElement(w);
    }
    xmlTextWriterStartElement(w, XC("ResponseMetadata"));
    xmlTextWriterWriteElement(w, XC("RequestId"), XC(req->request_id));
    xmlTextWriterEndElement(w);
    xmlTextWriterEndElement(w);
    o->status = 200;
    return xml_finish(w, b, o);
}

static int
render_json(const sqs_req *req, struct out *o)
{
    json_t *doc;
    char type[160];

    if (req->err != SQS_OK) {
        const struct sqs_code_info *ci = sqs_code_info(req->err);

        snprintf(type, sizeof type, "com.amazonaws.sqs#%s", ci->json_type);
        doc = json_pack("{s:s,s:s}", "__type", type, "message", req->errmsg);
        snprintf(o->query_error, sizeof o->query_error, "%s;%s", ci->query_code,
                 ci->sender ? "Sender" : "Receiver");
        o->status = ci->status;
    } else {
        doc = json_incref(req->out);
        o->status = 200;
    }
    if (doc == NULL)
        return -1;
    o->body = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);
    if (o->body == NULL)
        return -1;
    o->len = strlen(o->body);
    o->ctype = "application/x-amz-json-1.0";
    return 0;
}

/* === the request === */

static const char *
header_of(void *ctx, const char *name)
{
    return MHD_lookup_connection_value(ctx, MHD_HEADER_KIND, name);
}

static void
request_id(char *out, size_t size)
{
    unsigned char r[16];

    if (RAND_bytes(r, sizeof r) != 1)
        memset(r, 0, sizeof r);
    snprintf(out, size,
             "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
             "%02x%02x%02x%02x%02x%02x",
             r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10],
             r[11], r[12], r[13], r[14], r[15]);
}

/* Authenticate, parse and run one whole request; fills o. */
static void
serve(struct MHD_Connection *conn,
      const char *method,
      struct conn_ctx *ctx,
      struct out *o)
{
    sqs_req req;
    sqs_http_req h;
    char *path = NULL, *q, *action = NULL;
    const char *target = header_of(conn, "X-Amz-Target");
    int json = target != NULL;
    json_t *in = NULL, *tree = NULL;

    memset(&req, 0, sizeof req);
    req.srv = server;
    req.action = "";
    req.action_index = -1;
    request_id(req.request_id, sizeof req.request_id);
    req.host = header_of(conn, "Host");
    if (req.host == NULL || *req.host == '\0' || strchr(req.host, '/'))
        req.host = listen_host;

    path = strdup(ctx->uri ? ctx->uri : "/");
    if (path == NULL) {
        sqs_fail(&req, SQS_E_INTERNAL, "out of memory");
        goto render;
    }
    q = strchr(path, '?');
    if (q != NULL)
        *q++ = '\0';
    req.url_path = path;

    if (ctx->too_big) {
        sqs_fail(&req, SQS_E_INVALID_PARAM,
                 "the request is larger than %d bytes", BODY_MAX);
        goto render;
    }
    h.method = method;
    h.path = path;
    h.query = q ? q : "";
    h.header = header_of;
    h.header_ctx = conn;
    h.body = ctx->body;
    h.body_len = ctx->len;
    if (sqs_sigv4_verify(&req, &h, (long long)time(NULL)) != SQS_OK) {
        wlog(WLOG_INFO, "request refused", "code=%s key=%s err=%s",
             sqs_code_info(req.err)->query_code,
             req.key_id[0] ? req.key_id : NULL, req.errmsg);
        goto render;
    }

    if (json) {
        json_error_t jerr;

        if (strncmp(target, "AmazonSQS.", 10) != 0) {
            sqs_fail(&req, SQS_E_INVALID_ACTION,
                     "X-Amz-Target must be AmazonSQS.<Action>");
            goto render;
        }
        req.action = target + 10;
        /* A name given twice (a message attribute's among them) is
         * refused, not decided by the parser. */
        in = ctx->len ? json_loadb((const char *)ctx->body, ctx->len,
                                   JSON_REJECT_DUPLICATES, &jerr)
                      : json_object();
        if (in == NULL) {
            sqs_fail(&req, SQS_E_INVALID_PARAM, "the body is not JSON: %s",
                     jerr.text);
            goto render;
        }
    } else {
        char err[SQS_ERRMSG];

        tree = json_object();
        if (tree == NULL ||
            sqs_form_parse(h.query, strlen(h.query), tree, &action) != 0 ||
            sqs_form_parse((const char *)ctx->body, ctx->len, tree, &action) !=
                0) {
            sqs_fail(&req, SQS_E_INVALID_PARAM,
                     "the form's parameters are malformed");
            goto render;
        }
        in = sqs_form_finish(tree, err, sizeof err);
        if (in == NULL) {
            sqs_fail(&req, SQS_E_INVALID_PARAM, "%s", err);
            goto render;
        }
        if (action == NULL) {
            sqs_fail(&req, SQS_E_MISSING_PARAM,
                     "The request must contain the parameter Action.");
            goto render;
        }
        req.action = action;
    }
    req.in = in;
    sqs_dispatch(&req);
    if (req.err >= SQS_E_INTERNAL)
        wlog(WLOG_WARN, "request failed", "action=%s key=%s code=%s err=%s",
             req.action, req.key_id, sqs_code_info(req.err)->query_code,
             req.errmsg);
    else
        wlog(WLOG_DEBUG, "request", "action=%s key=%s code=%s ms=%.1f",
             req.action, req.key_id,
             req.err ? sqs_code_info(req.err)->query_code : NULL,
             (sqs_now() - ctx->t0) * 1000);

render:
    if ((json ? render_json(&req, o) : render_xml(&req, o)) != 0) {
        o->status = 500;
        o->body = NULL;
        o->len = 0;
        o->ctype = "text/plain";
    }
    sqs_metrics_request(&req, sqs_now() - ctx->t0);
    json_decref(req.out);
    json_decref(in);
    json_decref(tree);
    free(action);
    free(path);
}

static enum MHD_Result
on_request(void *cls,
           struct MHD_Connection *conn,
           const char *url,
           const char *method,
           const char *version,
           const char *upload,
           size_t *upload_size,
           void **con_cls)
{
    struct conn_ctx *ctx = *con_cls;
    struct MHD_Response *resp;
    struct out o;
    enum MHD_Result rc;

    (void)cls;
    (void)url;
    (void)version;
    if (ctx == NULL)
        return MHD_NO;
    if (!ctx->started) {
        ctx->started = 1;
        ctx->t0 = sqs_now();
        count_active(1);
        return MHD_YES;
    }
    if (*upload_size > 0) {
        size_t n = *upload_size;

        *upload_size = 0;
        if (ctx->too_big || ctx->len + n > BODY_MAX) {
            ctx->too_big = 1;
            return MHD_YES;
        }
        if (ctx->len + n > ctx->cap) {
            size_t cap = ctx->cap ? ctx->cap : 4096;
            unsigned char *nb;

            while (cap < ctx->len + n)
                cap *= 2;
            nb = realloc(ctx->body, cap);
            if (nb == NULL)
                return MHD_NO;
            ctx->body = nb;
            ctx->cap = cap;
        }
        memcpy(ctx->body + ctx->len, upload, n);
        ctx->len += n;
        return MHD_YES;
    }

    memset(&o, 0, sizeof o);
    serve(conn, method, ctx, &o);
    if (o.body == NULL)
        o.body = calloc(1, 1);
    resp = o.body ? MHD_create_response_from_buffer(o.len, o.body,
                                                    MHD_RESPMEM_MUST_FREE)
                  : NULL;
    if (resp == NULL) {
        free(o.body);
        return MHD_NO;
    }
    MHD_add_response_header(resp, "Content-Type", o.ctype);
    if (o.query_error[0])
        MHD_add_response_header(resp, "x-amzn-query-error", o.query_error);
    rc = MHD_queue_response(conn, (unsigned)o.status, resp);
    MHD_destroy_response(resp);
    return rc;
}

static void *
on_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
    struct conn_ctx *ctx = calloc(1, sizeof *ctx);

    (void)cls;
    (void)conn;
    if (ctx != NULL)
        ctx->uri = strdup(uri);
    return ctx;
}

static void
on_done(void *cls,
        struct MHD_Connection *conn,
        void **con_cls,
        enum MHD_RequestTerminationCode why)
{
    struct conn_ctx *ctx = *con_cls;

    (void)cls;
    (void)conn;
    (void)why;
    if (ctx == NULL)
        return;
    if (ctx->started)
        count_active(-1);
    free(ctx->uri);
    free(ctx->body);
    free(ctx);
    *con_cls = NULL;
}

struct MHD_Daemon *
sqs_http_start(sqs_server *srv,
               const struct sockaddr *addr,
               int ipv6,
               const char *host,
               unsigned max_conns)
{
    unsigned flags = MHD_USE_THREAD_PER_CONNECTION |
                     MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ITC;

    server = srv;
    listen_host = host;
    if (ipv6)
        flags |= MHD_USE_IPv6;
    return MHD_start_daemon(
        flags, 0, NULL, NULL, on_request, NULL, MHD_OPTION_SOCK_ADDR, addr,
        MHD_OPTION_URI_LOG_CALLBACK, on_uri, NULL, MHD_OPTION_NOTIFY_COMPLETED,
        on_done, NULL, MHD_OPTION_CONNECTION_LIMIT, max_conns,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)60, MHD_OPTION_END);
}
