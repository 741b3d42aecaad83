/*
 * msgattr.c - SQS message attributes, kept in txq's message headers.
 *
 * The mapping (docs/sqs.md, "Message attributes and headers"): each
 * attribute is the header of its name, whose value is a JSON string: the
 * StringValue of the String and Number types (custom labels included),
 * the standard base64 of the bytes of the Binary types. The header
 * "sqs:types" maps each name whose DataType is not plain "String" to its
 * DataType. The system attribute AWSTraceHeader is the header
 * "sqs:AWSTraceHeader". A ':' is never in an SQS attribute name, so the
 * "sqs:" headers cannot meet an attribute. Back over SQS, every other
 * header is an attribute: of the type recorded while its value still fits
 * that type, else a String; a value that is not a JSON string (set by SQL)
 * goes as its JSON text.
 *
 * MD5OfMessageAttributes is SQS's digest: over the attributes sorted by
 * name, each as its name, its DataType (each a 4-byte big-endian length
 * and the bytes), a transport byte (1 String and Number, 2 Binary) and its
 * value (length and bytes: the UTF-8 string, or the binary bytes).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>

#include "sqs.h"

#define ATTR_MAX      10
#define ATTR_NAME_MAX 256
#define ATTR_TYPE_MAX 256
#define TYPES_HEADER  "sqs:types"
#define TRACE_HEADER  "sqs:AWSTraceHeader"

enum { T_STRING = 1, T_NUMBER, T_BINARY };

/* One attribute's parts, as the digest takes them. */
struct attr {
    const char *name;
    const char *type;
    const unsigned char *val; /* the string, or the binary bytes */
    size_t len;
    int binary;
    unsigned char *owned; /* decoded bytes to free */
};

/* The base type of a DataType ("Number.float" is a Number), or 0. */
static int
type_base(const char *t)
{
    static const struct {
        const char *name;
        size_t len;
        int base;
    } bases[] = {{"String", 6, T_STRING},
                 {"Number", 6, T_NUMBER},
                 {"Binary", 6, T_BINARY}};
    size_t i, n = strlen(t);

    if (n > ATTR_TYPE_MAX || !sqs_text_ok(t, n))
        return 0;
    for (i = 0; i < sizeof bases / sizeof bases[0]; i++)
        if (strncmp(t, bases[i].name, bases[i].len) == 0 &&
            (t[bases[i].len] == '\0' ||
             (t[bases[i].len] == '.' && t[bases[i].len + 1] != '\0')))
            return bases[i].base;
    return 0;
}

/* SQS's rule for names: 1-256 of A-Za-z0-9 _ - ., no leading or trailing
 * '.', no "..", not AWS. or Amazon. in any case. */
static const char *
name_problem(const char *n)
{
    size_t i, len = strlen(n);

    if (len == 0 || len > ATTR_NAME_MAX)
        return "must be 1 to 256 characters long";
    for (i = 0; i < len; i++)
        if (!((n[i] >= 'a' && n[i] <= 'z') || (n[i] >= 'A' && n[i] <= 'Z') ||
              (n[i] >= '0' && n[i] <= '9') || n[i] == '_' || n[i] == '-' ||
              n[i] == '.'))
            return "can only include alphanumeric characters, hyphens, "
                   "underscores, or periods";
    if (n[0] == '.' || n[len - 1] == '.' || strstr(n, "..") != NULL)
        return "cannot start or end with a period, or hold two in a row";
    if (strncasecmp(n, "AWS.", 4) == 0 || strncasecmp(n, "Amazon.", 7) == 0)
        return "is reserved for use by SQS (AWS. and Amazon.)";
    return NULL;
}

/* A Number's value: an optionally signed decimal, with an optional
 * exponent, of at most 38 significant digits, 0 or between 10^-128 and
 * 10^126 in magnitude. */
static int
number_ok(const char *s)
{
    const char *p = s;
    int digits = 0, started = 0, point = 0, span = 0, sig = 0, fz = 0;
    long mag = 0, e = 0;

    if (*p == '+' || *p == '-')
        p++;
    for (; (*p >= '0' && *p <= '9') || (*p == '.' && !point); p++) {
        if (*p == '.') {
            point = 1;
            continue;
        }
        digits++;
        if (!started) {
            if (*p == '0') {
                fz += point; /* 0.00x: zeros after the point */
                continue;
            }
            started = 1;
            mag = point ? -(fz + 1) : 0;
        } else if (!point) {
            mag++;
        }
        span++;
        if (*p != '0')
            sig = span; /* trailing zeros are not significant */
    }
    if (digits == 0)
        return 0;
    if (*p == 'e' || *p == 'E') {
        int neg = 0, n = 0;

        p++;
        if (*p == '+' || *p == '-')
            neg = *p++ == '-';
        for (; *p >= '0' && *p <= '9'; p++, n++)
            if (n < 6)
                e = e * 10 + (*p - '0');
        if (n == 0)
            return 0;
        e = neg ? -e : e;
    }
    if (*p != '\0' || sig > 38)
        return 0;
    return !started || (mag + e >= -128 && mag + e <= 125);
}

static void
put_len(EVP_MD_CTX *md, const void *p, size_t n)
{
    unsigned char l[4] = {(unsigned char)(n >> 24), (unsigned char)(n >> 16),
                          (unsigned char)(n >> 8), (unsigned char)n};

    EVP_DigestUpdate(md, l, 4);
    EVP_DigestUpdate(md, p, n);
}

static int
by_name(const void *a, const void *b)
{
    return strcmp(((const struct attr *)a)->name,
                  ((const struct attr *)b)->name);
}

/* SQS's digest of n attributes (sorted here by name); "" when none. */
static void
attrs_md5(struct attr *a, size_t n, char out[33])
{
    static const char digits[] = "0123456789abcdef";
    EVP_MD_CTX *md;
    unsigned char d[EVP_MAX_MD_SIZE];
    unsigned int dl = 0;
    size_t i;

    out[0] = '\0';
    if (n == 0 || (md = EVP_MD_CTX_new()) == NULL)
        return;
    qsort(a, n, sizeof *a, by_name);
    EVP_DigestInit_ex(md, EVP_md5(), NULL);
    for (i = 0; i < n; i++) {
        unsigned char transport = a[i].binary ? 2 : 1;

        put_len(md, a[i].name, strlen(a[i].name));
        put_len(md, a[i].type, strlen(a[i].type));
        EVP_DigestUpdate(md, &transport, 1);
        put_len(md, a[i].val, a[i].len);
    }
    EVP_DigestFinal_ex(md, d, &dl);
    EVP_MD_CTX_free(md);
    for (i = 0; i < 16; i++) {
        out[2 * i] = digits[d[i] >> 4];
        out[2 * i + 1] = digits[d[i] & 15];
    }
    out[32] = '\0';
}

static void
attrs_free(struct attr *a, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        free(a[i].owned);
}

/* === sending === */

/* One attribute of a send (kind: "Message (user)" or "Message system"),
 * checked; a->owned holds Binary bytes. */
static enum sqs_code
attr_read(
    sqs_req *req, const char *kind, const char *name, json_t *v, struct attr *a)
{
    const char *type = json_string_value(json_object_get(v, "DataType"));
    json_t *sv = json_object_get(v, "StringValue");
    json_t *bv = json_object_get(v, "BinaryValue");
    int base;

    memset(a, 0, sizeof *a);
    a->name = name;
    if (!json_is_object(v) || type == NULL)
        return sqs_fail(req, SQS_E_INVALID_PARAM,
                        "%s attribute '%.256s' must contain a non-empty "
                        "DataType.",
                        kind, name);
    base = type_base(type);
    if (base == 0)
        return sqs_fail(req, SQS_E_INVALID_PARAM,
                        "The type of %s attribute '%.256s' is invalid. You "
                        "must use only the following supported type "
                        "prefixes: Binary, Number, String.",
                        kind, name);
    if (json_array_size(json_object_get(v, "StringListValues")) > 0 ||
        json_array_size(json_object_get(v, "BinaryListValues")) > 0)
        return sqs_fail(req, SQS_E_INVALID_PARAM,
                        "%s attribute '%.256s': StringListValues and "
                        "BinaryListValues are not implemented by SQS.",
                        kind, name);
    a->type = type;
    if (base == T_BINARY) {
        const char *b64 = json_string_value(bv);
        size_t n = b64 ? strlen(b64) : 0;
        long len;

        if (sv != NULL || n == 0)
            return sqs_fail(req, SQS_E_INVALID_PARAM,
                            "%s attribute '%.256s' must contain a non-empty "
                            "value of type '%.256s' (BinaryValue only).",
                            kind, name, type);
        a->owned = malloc(n / 4 * 3 + 1);
        if (a->owned == NULL)
            return sqs_fail(req, SQS_E_INTERNAL, "out of memory");
        len = sqs_b64_decode(b64, n, a->owned, n / 4 * 3 + 1);
        if (len <= 0)
            return sqs_fail(req, SQS_E_INVALID_PARAM,
                            "%s attribute '%.256s': BinaryValue is not "
                            "valid base64.",
                            kind, name);
        a->val = a->owned;
        a->len = (size_t)len;
        a->binary = 1;
        return SQS_OK;
    }
    if (bv != NULL || !json_is_string(sv) || json_string_length(sv) == 0)
        return sqs_fail(req, SQS_E_INVALID_PARAM,
                        "%s attribute '%.256s' must contain a non-empty value "
                        "of type '%.256s' (StringValue only).",
                        kind, name, type);
    a->val = (const unsigned char *)json_string_value(sv);
    a->len = json_string_length(sv);
    if (!sqs_text_ok((const char *)a->val, a->len))
        return sqs_fail(req, SQS_E_INVALID_CONTENTS,
                        "%s attribute '%.256s' holds a character SQS does "
                        "not allow.",
                        kind, name);
    if (base == T_NUMBER && !number_ok((const char *)a->val))
        return sqs_fail(req, SQS_E_INVALID_PARAM,
                        "Can't cast the value of %s attribute '%.256s' to a "
                        "number.",
                        kind, name);
    return SQS_OK;
}

/* The header of a checked attribute: its string, or its bytes' base64. */
static json_t *
header_value(const struct attr *a)
{
    char *b64;
    json_t *v;

    if (!a->binary)
        return json_stringn((const char *)a->val, a->len);
    b64 = malloc((a->len + 2) / 3 * 4 + 1);
    if (b64 == NULL)
        return NULL;
    sqs_b64_encode(a->val, a->len, b64);
    v = json_string(b64);
    free(b64);
    return v;
}

size_t
sqs_attrs_size(const json_t *obj)
{
    json_t *map = json_object_get(obj, "MessageAttributes"), *v;
    const char *k;
    size_t size = 0;

    json_object_foreach(map, k, v)
    {
        const char *t = json_string_value(json_object_get(v, "DataType"));
        const char *s = json_string_value(json_object_get(v, "StringValue"));
        const char *b = json_string_value(json_object_get(v, "BinaryValue"));

        size += strlen(k) + (t ? strlen(t) : 0) + (s ? strlen(s) : 0) +
                (b ? strlen(b) / 4 * 3 : 0);
    }
    return size;
}

enum sqs_code
sqs_attrs_in(sqs_req *req,
             const json_t *obj,
             json_t *headers,
             char md5[33],
             char md5sys[33],
             size_t *size)
{
    json_t *map = json_object_get(obj, "MessageAttributes");
    json_t *sys = json_object_get(obj, "MessageSystemAttributes");
    json_t *types = NULL, *v;
    struct attr a[ATTR_MAX], trace;
    size_t n = 0, i;
    const char *k, *problem;
    enum sqs_code rc = SQS_OK;

    md5[0] = md5sys[0] = '\0';
    *size = 0;
    memset(&trace, 0, sizeof trace);
    if ((map != NULL && !json_is_object(map)) ||
        (sys != NULL && !json_is_object(sys)))
        return sqs_fail(req, SQS_E_INVALID_PARAM,
                        "MessageAttributes and MessageSystemAttributes are "
                        "maps of a name to a value.");
    if (json_object_size(map) > ATTR_MAX)
        return sqs_fail(req, SQS_E_INVALID_PARAM,
                        "Number of message attributes [%zu] exceeds the "
                        "allowed maximum [%d].",
                        json_object_size(map), ATTR_MAX);
    json_object_foreach(map, k, v)
    {
        problem = name_problem(k);
        if (problem != NULL) {
            rc = sqs_fail(req, SQS_E_INVALID_PARAM,
                          "Message (user) attribute name '%.256s' is "
                          "invalid: it %s.",
                          k, problem);
            goto out;
        }
        if (attr_read(req, "Message (user)", k, v, &a[n++]) != SQS_OK) {
            rc = req->err;
            goto out;
        }
        *size += strlen(k) + strlen(a[n - 1].type) + a[n - 1].len;
    }
    json_object_foreach(sys, k, v)
    {
        if (strcmp(k, "AWSTraceHeader") != 0) {
            rc = sqs_fail(req, SQS_E_INVALID_PARAM,
                          "Message system attribute name '%.256s' is "
                          "invalid: only AWSTraceHeader is supported.",
                          k);
            goto out;
        }
        if (attr_read(req, "Message system", k, v, &trace) != SQS_OK) {
            rc = req->err;
            goto out;
        }
        if (strcmp(trace.type, "String") != 0) {
            rc = sqs_fail(req, SQS_E_INVALID_PARAM,
                          "Message system attribute AWSTraceHeader must be "
                          "of type String.");
            goto out;
        }
    }
    /* Checked: now into the headers. */
    for (i = 0; i < n; i++) {
        if (json_object_set_new(headers, a[i].name, header_value(&a[i])) != 0)
            goto oom;
        if (strcmp(a[i].type, "String") == 0)
            continue;
        if (types == NULL && (types = json_object()) == NULL)
            goto oom;
        if (json_object_set_new(types, a[i].name, json_string(a[i].type)))
            goto oom;
    }
    if (types != NULL && json_object_set(headers, TYPES_HEADER, types) != 0)
        goto oom;
    if (trace.val != NULL) {
        if (json_object_set_new(headers, TRACE_HEADER, header_value(&trace)))
            goto oom;
        attrs_md5(&trace, 1, md5sys);
    }
    attrs_md5(a, n, md5);
    goto out;
oom:
    rc = sqs_fail(req, SQS_E_INTERNAL, "out of memory");
out:
    json_decref(types);
    attrs_free(a, n);
    attrs_free(&trace, 1);
    return rc;
}

/* === receiving === */

/* Whether name is asked for by names (MessageAttributeNames: names, All,
 * ".*", "prefix.*"). */
static int
wanted(const json_t *names, const char *name)
{
    json_t *x;
    size_t i;

    json_array_foreach(names, i, x)
    {
        const char *p = json_string_value(x);
        size_t n;

        if (p == NULL)
            continue;
        n = strlen(p);
        if (strcmp(p, "All") == 0 || strcmp(p, ".*") == 0 ||
            strcmp(p, name) == 0)
            return 1;
        if (n > 2 && strcmp(p + n - 2, ".*") == 0 &&
            strncmp(p, name, n - 1) == 0)
            return 1;
    }
    return 0;
}

/* The attribute of one header, added to out; a gets its parts (which
 * point into headers and out). Returns 1, 0 when the header is none, -1
 * out of memory. */
static int
attr_of_header(
    const char *k, json_t *v, json_t *types, struct attr *a, json_t *out)
{
    const char *type = json_string_value(json_object_get(types, k));
    json_t *val = NULL;

    memset(a, 0, sizeof *a);
    if (strncmp(k, "sqs:", 4) == 0 || *k == '\0' || !sqs_text_ok(k, strlen(k)))
        return 0;
    if (type == NULL || type_base(type) == 0 || !json_is_string(v))
        type = "String";
    if (type_base(type) == T_BINARY) {
        size_t n = json_string_length(v);
        long bl;

        a->owned = malloc(n / 4 * 3 + 1);
        if (a->owned == NULL)
            return -1;
        bl = sqs_b64_decode(json_string_value(v), n, a->owned, n / 4 * 3 + 1);
        if (bl > 0) {
            a->val = a->owned;
            a->len = (size_t)bl;
            a->binary = 1;
            val = json_pack("{s:s,s:O}", "DataType", type, "BinaryValue", v);
        } else {
            type = "String"; /* no longer base64: as a String */
        }
    }
    if (!a->binary) {
        char *dumped = json_is_string(v)
                           ? NULL
                           : json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
        const char *s = dumped ? dumped : json_string_value(v);
        size_t sl = dumped ? strlen(dumped) : json_string_length(v);
        char *text;

        text =
            s ? sqs_text_for_sqs((const unsigned char *)s, sl, &a->len) : NULL;
        /* a Number changed by the sanitising is no longer one */
        if (text != NULL && strcmp(type, "String") != 0 &&
            (a->len != sl || memcmp(text, s, sl) != 0))
            type = "String";
        free(dumped);
        free(a->owned);
        a->owned = (unsigned char *)text;
        a->val = a->owned;
        if (text == NULL)
            return -1;
        val = json_pack("{s:s,s:s%}", "DataType", type, "StringValue", text,
                        a->len);
    }
    a->name = k;
    a->type = type;
    return val != NULL && json_object_set_new(out, k, val) == 0 ? 1 : -1;
}

json_t *
sqs_attrs_out(json_t *headers,
              const json_t *names,
              char md5[33],
              const char **trace)
{
    json_t *types = json_object_get(headers, TYPES_HEADER), *v;
    json_t *out = json_object();
    struct attr *a = calloc(json_object_size(headers) + 1, sizeof *a);
    size_t n = 0;
    const char *k;

    md5[0] = '\0';
    *trace = json_string_value(json_object_get(headers, TRACE_HEADER));
    if (out == NULL || a == NULL)
        goto fail;
    json_object_foreach(headers, k, v)
    {
        int r;

        if (!wanted(names, k))
            continue;
        r = attr_of_header(k, v, types, &a[n], out);
        if (r < 0) {
            n++;
            goto fail;
        }
        n += (size_t)r;
    }
    attrs_md5(a, n, md5);
    attrs_free(a, n);
    free(a);
    return out;
fail:
    if (a != NULL)
        attrs_free(a, n);
    free(a);
    json_decref(out);
    return NULL;
}
