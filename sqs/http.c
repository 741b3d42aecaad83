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

#define BODY_MAX       (4 * 1024 * 1024)
#define LIST_INDEX_MAX 100
#define XMLNS          "http://queue.amazonaws.com/doc/2012-11-05/"
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

/* === query protocol: form to JSON === */

static int
hexv(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = tolower(c);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Decode a form field in place ('+' is a space); its new length. */
static size_t
form_decode(char *s, size_t n)
{
    size_t i, o = 0;

    for (i = 0; i < n; i++) {
        if (s[i] == '+') {
            s[o++] = ' ';
        } else if (s[i] == '%' && i + 2 < n && hexv(s[i + 1]) >= 0 &&
                   hexv(s[i + 2]) >= 0) {
            s[o++] = (char)(hexv(s[i + 1]) * 16 + hexv(s[i + 2]));
            i += 2;
        } else {
            s[o++] = s[i];
        }
    }
    s[o] = '\0';
    return o;
}

/* The element index of "N" (1-based in the form), or -1. */
static int
list_index(const char *s, size_t n)
{
    int v = 0;
    size_t i;

    if (n == 0 || n > 3)
        return -1;
    for (i = 0; i < n; i++) {
        if (!isdigit((unsigned char)s[i]))
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v >= 1 && v <= LIST_INDEX_MAX ? v - 1 : -1;
}

/* arr[i] (made an object when missing), growing arr with nulls. */
static json_t *
array_slot(json_t *arr, int i, int object)
{
    json_t *x;

    while ((int)json_array_size(arr) <= i)
        json_array_append_new(arr, json_null());
    x = json_array_get(arr, (size_t)i);
    if (object && !json_is_object(x)) {
        x = json_object();
        json_array_set_new(arr, (size_t)i, x);
    }
    return x;
}

static json_t *
member(json_t *obj, const char *key, int array)
{
    json_t *x = json_object_get(obj, key);

    if (x == NULL) {
        x = array ? json_array() : json_object();
        json_object_set_new(obj, key, x);
    }
    return x;
}

/* Put one form field into in. Shapes: Attribute.N.Name/Value -> Attributes
 * map; XEntry.N.Field -> Entries[N-1].Field; X.N -> Xs[N-1]; the message
 * attributes (unsupported) are only marked as present; else a string. */
static int
form_field(
    json_t *in, json_t *attr_pairs, const char *k, const char *v, size_t vlen)
{
    const char *d1 = strchr(k, '.'), *d2;
    size_t plen;
    int idx;

    if (d1 == NULL) {
        if (strcmp(k, "Action") == 0 || strcmp(k, "Version") == 0)
            return 0;
        return json_object_set_new(in, k, json_stringn(v, vlen));
    }
    plen = (size_t)(d1 - k);
    d2 = strchr(d1 + 1, '.');
    idx = list_index(d1 + 1, d2 ? (size_t)(d2 - d1 - 1) : strlen(d1 + 1));
    if (idx < 0)
        return -1;
    if (strncmp(k, "MessageAttribute.", 17) == 0 ||
        strncmp(k, "MessageSystemAttribute.", 23) == 0) {
        json_object_set_new(
            member(in,
                   plen == 16 ? "MessageAttributes" : "MessageSystemAttributes",
                   0),
            "present", json_true());
        return 0;
    }
    if (d2 != NULL && strncmp(k, "Attribute.", 10) == 0) {
        json_t *pair = array_slot(attr_pairs, idx, 1);

        return json_object_set_new(pair, d2 + 1, json_stringn(v, vlen));
    }
    if (d2 != NULL && plen > 5 && strncmp(d1 - 5, "Entry", 5) == 0) {
        json_t *e = array_slot(member(in, "Entries", 1), idx, 1);

        if (strchr(d2 + 1, '.') != NULL) {
            if (strncmp(d2 + 1, "MessageAttribute", 16) == 0)
                json_object_set_new(member(e, "MessageAttributes", 0),
                                    "present", json_true());
            return 0;
        }
        return json_object_set_new(e, d2 + 1, json_stringn(v, vlen));
    }
    if (d2 == NULL) {
        char key[128];

        if (plen + 2 > sizeof key)
            return -1;
        memcpy(key, k, plen);
        key[plen] = 's';
        key[plen + 1] = '\0';
        json_t *arr = member(in, key, 1);

        array_slot(arr, idx, 0);
        return json_array_set_new(arr, (size_t)idx, json_stringn(v, vlen));
    }
    return 0; /* a shape no supported action takes */
}

/* Parse form text (copied) into in; *action gets Action (malloc'd). */
static int
form_parse(
    const char *text, size_t n, json_t *in, json_t *attr_pairs, char **action)
{
    char *s = malloc(n + 1), *p, *end;
    int rc = 0;

    if (s == NULL)
        return -1;
    memcpy(s, text, n);
    s[n] = '\0';
    for (p = s; p < s + n && rc == 0; p = end + 1) {
        char *eq, *v;
        size_t vlen;

        end = strchr(p, '&');
        if (end == NULL)
            end = s + n;
        *end = '\0';
        if (*p == '\0')
            continue;
        eq = strchr(p, '=');
        v = eq ? eq + 1 : end;
        if (eq)
            *eq = '\0';
        form_decode(p, strlen(p));
        vlen = form_decode(v, strlen(v));
        if (strcmp(p, "Action") == 0) {
            free(*action);
            *action = strdup(v);
        }
        rc = form_field(in, attr_pairs, p, v, vlen);
    }
    free(s);
    return rc;
}

/* Attribute.N pairs into the Attributes map; drop list gaps. */
static void
form_finish(json_t *in, json_t *attr_pairs)
{
    json_t *x, *attrs = NULL;
    const char *k;
    size_t i;

    json_array_foreach(attr_pairs, i, x)
    {
        const char *name = json_string_value(json_object_get(x, "Name"));
        json_t *v = json_object_get(x, "Value");

        if (name == NULL || v == NULL)
            continue;
        if (attrs == NULL)
            attrs = member(in, "Attributes", 0);
        json_object_set(attrs, name, v);
    }
    json_object_foreach(in, k, x)
    {
        for (i = json_array_size(x); i-- > 0;)
            if (json_is_null(json_array_get(x, i)))
                json_array_remove(x, i);
    }
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

    if (strcmp(k, "Attributes") == 0 && json_is_object(v)) {
        json_object_foreach(v, ak, x)
        {
            xmlTextWriterStartElement(w, XC("Attribute"));
            xmlTextWriterWriteElement(w, XC("Name"), XC(ak));
            xmlTextWriterWriteElement(w, XC("Value"), XC(json_string_value(x)));
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
    static const char *const none[] = {"ChangeMessageVisibility",
                                       "DeleteMessage", "DeleteQueue",
                                       "PurgeQueue", "SetQueueAttributes"};
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
    json_t *in = NULL, *pairs = NULL;

    memset(&req, 0, sizeof req);
    req.srv = server;
    req.action = "";
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
        in = ctx->len ? json_loadb((const char *)ctx->body, ctx->len, 0, &jerr)
                      : json_object();
        if (in == NULL) {
            sqs_fail(&req, SQS_E_INVALID_PARAM, "the body is not JSON: %s",
                     jerr.text);
            goto render;
        }
    } else {
        in = json_object();
        pairs = json_array();
        if (in == NULL || pairs == NULL ||
            form_parse(h.query, strlen(h.query), in, pairs, &action) != 0 ||
            form_parse((const char *)ctx->body, ctx->len, in, pairs, &action) !=
                0) {
            sqs_fail(&req, SQS_E_INVALID_PARAM,
                     "the form's parameters are malformed");
            goto render;
        }
        form_finish(in, pairs);
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
    json_decref(req.out);
    json_decref(in);
    json_decref(pairs);
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
