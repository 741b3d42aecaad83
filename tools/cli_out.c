/*
 * cli_out.c - print query results for the txq CLI: as an aligned table for
 * people, or as one JSON object per line (JSON Lines) for programs, with
 * values typed by their column's type.
 */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* Built-in type OIDs (stable across PostgreSQL versions, pg_type.dat). */
enum {
    OID_BOOL = 16,
    OID_BYTEA = 17,
    OID_INT8 = 20,
    OID_INT2 = 21,
    OID_INT4 = 23,
    OID_OID = 26,
    OID_JSON = 114,
    OID_FLOAT4 = 700,
    OID_FLOAT8 = 701,
    OID_NUMERIC = 1700,
    OID_JSONB = 3802
};

static int
is_number_type(Oid t)
{
    return t == OID_INT8 || t == OID_INT2 || t == OID_INT4 || t == OID_OID ||
           t == OID_FLOAT4 || t == OID_FLOAT8 || t == OID_NUMERIC;
}

void
cli_json_value(cli_buf *b, const PGresult *res, int row, int col)
{
    Oid t = PQftype(res, col);
    const char *v = PQgetvalue(res, row, col);

    if (PQgetisnull(res, row, col)) {
        cli_buf_puts(b, "null");
    } else if (t == OID_BOOL) {
        cli_buf_puts(b, v[0] == 't' ? "true" : "false");
    } else if (is_number_type(t)) {
        /* NaN and Infinity have no JSON spelling. */
        if (strchr(v, 'N') != NULL || strchr(v, 'n') != NULL)
            cli_buf_puts(b, "null");
        else
            cli_buf_puts(b, v);
    } else if (t == OID_JSON || t == OID_JSONB) {
        cli_buf_puts(b, v);
    } else {
        cli_json_str(b, v, (size_t)PQgetlength(res, row, col));
    }
}

int
cli_json_row(cli_buf *b, const PGresult *res, int row)
{
    return cli_json_row_body(b, res, row, NULL, 0);
}

int
cli_json_row_body(
    cli_buf *b, const PGresult *res, int row, const char *given, size_t len)
{
    int bc = PQfnumber(res, "body");
    unsigned char *body = NULL;

    if (given == NULL && bc >= 0 && PQftype(res, bc) == OID_BYTEA &&
        !PQgetisnull(res, row, bc)) {
        body = PQunescapeBytea((const unsigned char *)PQgetvalue(res, row, bc),
                               &len);
        if (body == NULL)
            return cli_fail(CLI_ERR, "out of memory");
        given = (const char *)body;
    }
    cli_buf_putn(b, "{", 1);
    for (int c = 0; c < PQnfields(res); c++) {
        if (c == bc && given != NULL) {
            cli_json_body(b, given, len);
            continue;
        }
        cli_json_key(b, PQfname(res, c));
        cli_json_value(b, res, row, c);
    }
    cli_buf_puts(b, "}\n");
    PQfreemem(body);
    return CLI_OK;
}

/* Display width of s cut at maxw characters (0: no limit); counts code
 * points, which is right for the text a queue holds in practice. */
static size_t
cell_width(const char *s, size_t maxw)
{
    size_t w = 0;

    for (; *s != '\0'; s++) {
        if (((unsigned char)*s & 0xc0) != 0x80)
            w++;
    }
    return maxw > 0 && w > maxw ? maxw : w;
}

/* Append s cut at maxw characters (the last one then an ellipsis), with
 * control characters shown as '?' so that a row stays one line. */
static void
put_cell(cli_buf *b, const char *s, size_t maxw)
{
    size_t w = 0, total = cell_width(s, 0);

    for (; *s != '\0'; s++) {
        unsigned char c = (unsigned char)*s;
        if ((c & 0xc0) != 0x80) {
            if (maxw > 0 && total > maxw && w == maxw - 1) {
                cli_buf_puts(b, "\xe2\x80\xa6");
                return;
            }
            w++;
        }
        if (c < 0x20 || c == 0x7f)
            cli_buf_putn(b, "?", 1);
        else
            cli_buf_putn(b, s, 1);
    }
}

static void
pad(cli_buf *b, size_t n)
{
    while (n-- > 0)
        cli_buf_putn(b, " ", 1);
}

static const char *
cell(const PGresult *res, int row, int col)
{
    return PQgetisnull(res, row, col) ? "-" : PQgetvalue(res, row, col);
}

static int
print_table(const PGresult *res, size_t maxwidth)
{
    int rows = PQntuples(res), cols = PQnfields(res);
    size_t *width = calloc((size_t)cols + 1, sizeof *width);
    cli_buf b = {0};
    int rc;

    if (width == NULL)
        return cli_fail(CLI_ERR, "out of memory");
    for (int c = 0; c < cols; c++) {
        width[c] = cell_width(PQfname(res, c), 0);
        for (int r = 0; r < rows; r++) {
            size_t w = cell_width(cell(res, r, c), maxwidth);
            if (w > width[c])
                width[c] = w;
        }
    }
    for (int r = -1; r < rows; r++) {
        for (int c = 0; c < cols; c++) {
            const char *s = r < 0 ? PQfname(res, c) : cell(res, r, c);
            size_t w = cell_width(s, maxwidth);
            int right = r >= 0 && is_number_type(PQftype(res, c));

            if (c > 0)
                cli_buf_puts(&b, "  ");
            if (right)
                pad(&b, width[c] - w);
            put_cell(&b, s, maxwidth);
            if (!right && c < cols - 1)
                pad(&b, width[c] - w);
        }
        cli_buf_putn(&b, "\n", 1);
    }
    free(width);
    rc = cli_buf_write(&b);
    cli_buf_free(&b);
    return rc;
}

int
cli_print_result(const PGresult *res, int json, size_t maxwidth)
{
    cli_buf b = {0};
    int rc;

    if (!json)
        return print_table(res, maxwidth);
    for (int r = 0; r < PQntuples(res); r++) {
        rc = cli_json_row(&b, res, r);
        if (rc != CLI_OK) {
            cli_buf_free(&b);
            return rc;
        }
    }
    rc = cli_buf_write(&b);
    cli_buf_free(&b);
    return rc;
}
