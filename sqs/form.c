/*
 * form.c - the query protocol's forms, read into the JSON protocol's
 * shapes. A form flattens lists and maps into numbered fields:
 * "AttributeName.1=All", "Attribute.2.Name=X&Attribute.2.Value=Y",
 * "MessageAttribute.1.Value.StringValue=...",
 * "SendMessageBatchRequestEntry.3.MessageAttribute.1.Name=...". The
 * fields are first gathered into a tree (a numbered segment makes a
 * list), then the tree is renamed and reshaped as the JSON protocol
 * names things: "AttributeName" lists become "AttributeNames", Name/Value
 * (Key/Value) pairs become maps, "...Entry" lists become "Entries".
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formdecode.h"
#include "sqs.h"

#define LIST_INDEX_MAX 100

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

/* Put val (a reference taken) at the path key ("A.1.B") of tree. A field
 * given twice, or both as a value and as a structure, is -1. */
static int
tree_put(json_t *tree, char *key, json_t *val)
{
    json_t *cur = tree, *x;
    char *seg = key, *dot;

    for (;;) {
        char *next, *dot2;
        int idx;

        dot = strchr(seg, '.');
        if (*seg == '\0')
            goto bad;
        if (dot == NULL) {
            if (json_object_get(cur, seg) != NULL)
                goto bad;
            return json_object_set_new(cur, seg, val);
        }
        *dot = '\0';
        next = dot + 1;
        dot2 = strchr(next, '.');
        idx = list_index(next, dot2 ? (size_t)(dot2 - next) : strlen(next));
        if (idx < 0 && isdigit((unsigned char)*next))
            goto bad; /* a number, but not 1 to 100 */
        x = json_object_get(cur, seg);
        if (idx < 0) {
            if (x == NULL) {
                x = json_object();
                if (json_object_set_new(cur, seg, x) != 0)
                    goto bad;
            }
            if (!json_is_object(x))
                goto bad;
            cur = x;
            seg = next;
            continue;
        }
        if (x == NULL) {
            x = json_array();
            if (json_object_set_new(cur, seg, x) != 0)
                goto bad;
        }
        if (!json_is_array(x))
            goto bad;
        while ((int)json_array_size(x) <= idx)
            if (json_array_append_new(x, json_null()) != 0)
                goto bad;
        cur = json_array_get(x, (size_t)idx);
        if (dot2 == NULL) {
            if (!json_is_null(cur))
                goto bad;
            return json_array_set_new(x, (size_t)idx, val);
        }
        if (json_is_null(cur)) {
            cur = json_object();
            if (json_array_set_new(x, (size_t)idx, cur) != 0)
                goto bad;
        }
        if (!json_is_object(cur))
            goto bad;
        seg = dot2 + 1;
    }
bad:
    json_decref(val);
    return -1;
}

int
sqs_form_parse(const char *text, size_t n, json_t *tree, char **action)
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
            continue;
        }
        if (strcmp(p, "Version") == 0)
            continue;
        rc = tree_put(tree, p, json_stringn(v, vlen));
    }
    free(s);
    return rc;
}

/* === reshaping === */

static json_t *reshape(json_t *obj, char *err, size_t errsize);

/* A list of {kname: K, vname: V} pairs as the map K -> V (V reshaped when
 * an object); pairs without K are dropped. NULL on a repeated K. */
static json_t *
pairs_to_map(json_t *list,
             const char *kname,
             const char *vname,
             const char *what,
             char *err,
             size_t errsize)
{
    json_t *map = json_object(), *e;
    size_t i;

    if (map == NULL)
        return NULL;
    json_array_foreach(list, i, e)
    {
        const char *k = json_string_value(json_object_get(e, kname));
        json_t *v = json_object_get(e, vname);

        if (k == NULL)
            continue;
        if (json_object_get(map, k) != NULL) {
            snprintf(err, errsize, "%s %.256s is given more than once.", what,
                     k);
            json_decref(map);
            return NULL;
        }
        if (v == NULL)
            v = json_object(); /* a value missing: the action says so */
        else if (json_is_object(v))
            v = reshape(v, err, errsize);
        else
            json_incref(v);
        if (v == NULL || json_object_set_new(map, k, v) != 0) {
            json_decref(map);
            return NULL;
        }
    }
    return map;
}

static const struct {
    const char *form, *json, *key, *value, *what;
} maps[] = {
    {"Attribute", "Attributes", "Name", "Value", "Attribute"},
    {"MessageAttribute", "MessageAttributes", "Name", "Value",
     "Message attribute"},
    {"MessageSystemAttribute", "MessageSystemAttributes", "Name", "Value",
     "Message system attribute"},
    {"Tag", "Tags", "Key", "Value", "Tag"},
};

static const struct {
    const char *form, *json;
} lists[] = {
    {"ActionName", "Actions"},
    {"StringListValue", "StringListValues"},
    {"BinaryListValue", "BinaryListValues"},
};

/* Whether a form's field k is always a numbered list. */
static int
flattened(const char *k)
{
    size_t i, n = strlen(k);

    for (i = 0; i < sizeof maps / sizeof maps[0]; i++)
        if (strcmp(k, maps[i].form) == 0)
            return 1;
    return n > 5 && strcmp(k + n - 5, "Entry") == 0;
}

/* obj's fields in the JSON protocol's names and shapes (a new object). */
static json_t *
reshape(json_t *obj, char *err, size_t errsize)
{
    json_t *out = json_object(), *v, *x;
    const char *k;

    if (out == NULL)
        return NULL;
    json_object_foreach(obj, k, v)
    {
        char name[128];
        size_t i, n = strlen(k);

        if (!json_is_array(v) && flattened(k)) {
            /* "Attribute.Name=...": a list's field without its number */
            snprintf(err, errsize, "%s must be numbered: %s.1, %s.2, ...", k, k,
                     k);
            goto fail;
        }
        if (!json_is_array(v)) {
            x = json_is_object(v) ? reshape(v, err, errsize) : json_incref(v);
            if (x == NULL || json_object_set_new(out, k, x) != 0)
                goto fail;
            continue;
        }
        /* gaps in the numbering */
        for (i = json_array_size(v); i-- > 0;)
            if (json_is_null(json_array_get(v, i)))
                json_array_remove(v, i);
        x = NULL;
        for (i = 0; i < sizeof maps / sizeof maps[0]; i++)
            if (strcmp(k, maps[i].form) == 0)
                break;
        if (i < sizeof maps / sizeof maps[0]) {
            x = pairs_to_map(v, maps[i].key, maps[i].value, maps[i].what, err,
                             errsize);
            snprintf(name, sizeof name, "%s", maps[i].json);
        } else if (n > 5 && strcmp(k + n - 5, "Entry") == 0) {
            json_t *e;
            size_t j;

            x = json_array();
            json_array_foreach(v, j, e)
            {
                json_t *r = json_is_object(e) ? reshape(e, err, errsize)
                                              : json_incref(e);

                if (x == NULL || r == NULL || json_array_append_new(x, r)) {
                    json_decref(x);
                    x = NULL;
                    break;
                }
            }
            snprintf(name, sizeof name, "Entries");
        } else {
            for (i = 0; i < sizeof lists / sizeof lists[0]; i++)
                if (strcmp(k, lists[i].form) == 0)
                    break;
            if (i < sizeof lists / sizeof lists[0])
                snprintf(name, sizeof name, "%s", lists[i].json);
            else if (snprintf(name, sizeof name, "%ss", k) >= (int)sizeof name)
                goto fail;
            x = json_incref(v);
        }
        if (x == NULL)
            goto fail;
        if (json_object_get(out, name) != NULL) {
            json_decref(x);
            goto fail;
        }
        if (json_object_set_new(out, name, x) != 0)
            goto fail;
    }
    return out;
fail:
    json_decref(out);
    return NULL;
}

json_t *
sqs_form_finish(json_t *tree, char *err, size_t errsize)
{
    snprintf(err, errsize, "the form's parameters are malformed");
    return reshape(tree, err, errsize);
}
