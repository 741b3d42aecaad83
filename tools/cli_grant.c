/*
 * cli_grant.c - `txq grant`, `txq revoke` and `txq grants`: who may do what
 * on which queue (txq.grant, txq.revoke and the grants view).
 *
 * QUEUE, ROLE and the privileges reach the server as query parameters; the
 * privileges are checked here first against the five names the server
 * knows, so that a typo is a usage error that changes nothing.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const char grant_usage[] =
    "usage: txq grant QUEUE ROLE PRIVS\n"
    "       txq revoke QUEUE ROLE [PRIVS]\n"
    "       txq grants [QUEUE] [--json]\n"
    "\n"
    "grant gives ROLE the privileges PRIVS, a comma-separated list, on\n"
    "QUEUE, or on every queue of the schema, present and future, when\n"
    "QUEUE is * (quote it from a shell):\n"
    "  send     send, publish, reply\n"
    "  receive  recv and what a consumer does with what it received\n"
    "  operate  dead letters, cancel, purge, queue alter; also monitor\n"
    "  monitor  stats, peek\n"
    "  admin    (* only) everything, queues and topics, grant and revoke\n"
    "and prints what it added. revoke takes privileges back (without\n"
    "PRIVS, all of ROLE's on QUEUE; a grant on * and one on a queue are\n"
    "separate) and prints what it took. grant and revoke need admin.\n"
    "grants lists who holds what: every row, or with QUEUE those of QUEUE\n"
    "and of * (which covers it); it shows the queues the caller may\n"
    "operate. A refusal names the role, the queue and the privilege.\n"
    "\n"
    "  --json   grants: one JSON object per row and line\n";

static const char *const privs[] = {"send", "receive", "operate", "monitor",
                                    "admin"};

#define NPRIVS    (sizeof privs / sizeof privs[0])
#define ALL_PRIVS ((1u << NPRIVS) - 1)

/* Longest role name PostgreSQL keeps (NAMEDATALEN - 1); a longer one
 * would be cut, and could name another role. */
#define ROLE_MAX 63

/* What ROLE ($2) holds on QUEUE ($1) itself (a '*' row is QUEUE '*'). */
static const char held_sql[] =
    "select g.privilege from @s@.grants g"
    " join pg_catalog.pg_roles r on g.role = r.oid::regrole::text"
    " where g.queue = $1 and r.rolname = $2";

static const char grant_sql[] =
    "select @s@.grant($1, $2, pg_catalog.string_to_array($3, ','))";

static const char revoke_sql[] =
    "select @s@.revoke($1, $2, pg_catalog.string_to_array($3, ','))";

#define GRANTS_SQL(ts)                                                \
    "select queue, role, privilege, granted_by, " ts " as granted_at" \
    " from @s@.grants where $1::text is null or queue in ($1, '*')"   \
    " order by queue <> '*', queue, role,"                            \
    " array_position(array['send', 'receive', 'operate', 'monitor',"  \
    " 'admin'], privilege)"

/* --json (when json is not NULL) and --help. Returns -1 to go on, else an
 * exit code. */
static int
parse_opts(const char *cmd, int argc, char **argv, int *json)
{
    static const struct option longopts[] = {{"json", no_argument, NULL, 'j'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    int opt;

    cli_getopt_reset();
    while ((opt = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
        if (opt == 'h') {
            fputs(grant_usage, stdout);
            return CLI_OK;
        }
        if (opt != 'j' || json == NULL)
            return cli_usage_error(cmd, "unknown option \"%s\"",
                                   argv[optind - 1]);
        *json = 1;
    }
    return -1;
}

/* QUEUE is * or a queue name. */
static int
check_queue(const char *queue)
{
    return strcmp(queue, "*") == 0 ? CLI_OK : cli_check_queue_name(queue);
}

static int
check_role(const char *cmd, const char *role)
{
    if (role[0] == '\0')
        return cli_usage_error(cmd, "empty ROLE");
    if (strlen(role) > ROLE_MAX)
        return cli_usage_error(cmd, "ROLE \"%.100s\" is longer than %d bytes",
                               role, ROLE_MAX);
    return CLI_OK;
}

/* s ("send,receive") as a bit per privs[] entry into *mask. */
static int
parse_privs(const char *cmd, const char *s, unsigned *mask)
{
    const char *p = s;
    size_t n, i;

    *mask = 0;
    for (;;) {
        n = strcspn(p, ",");
        for (i = 0; i < NPRIVS; i++)
            if (strlen(privs[i]) == n && strncmp(p, privs[i], n) == 0)
                break;
        if (n == 0)
            return cli_usage_error(cmd,
                                   "%s privilege list \"%.100s\": give send, "
                                   "receive, operate, monitor or admin, "
                                   "separated by commas",
                                   s[0] == '\0' ? "empty" : "an empty item in",
                                   s);
        if (i == NPRIVS)
            return cli_usage_error(cmd,
                                   "unknown privilege \"%.*s\" (send, receive, "
                                   "operate, monitor, admin)",
                                   (int)(n < 100 ? n : 100), p);
        *mask |= 1u << i;
        if (p[n] == '\0')
            return CLI_OK;
        p += n + 1;
    }
}

/* The privileges of mask, comma-separated, into buf. */
static const char *
priv_list(unsigned mask, char *buf, size_t size)
{
    size_t len = 0;

    buf[0] = '\0';
    for (size_t i = 0; i < NPRIVS; i++)
        if (mask & (1u << i))
            len += (size_t)snprintf(buf + len, size - len, "%s%s",
                                    len > 0 ? "," : "", privs[i]);
    return buf;
}

/* "queue NAME", or "every queue (*)". */
static const char *
target(const char *queue, char *buf, size_t size)
{
    if (strcmp(queue, "*") == 0)
        snprintf(buf, size, "every queue (*)");
    else
        snprintf(buf, size, "queue %s", queue);
    return buf;
}

/* The privileges role holds on queue itself, as a mask into *held. */
static int
held_privs(cli *ctx,
           const char *what,
           const char *const *params,
           unsigned *held)
{
    PGresult *res = cli_query(ctx, what, held_sql, 2, params);

    if (res == NULL)
        return CLI_ERR;
    *held = 0;
    for (int r = 0; r < PQntuples(res); r++)
        for (size_t i = 0; i < NPRIVS; i++)
            if (strcmp(PQgetvalue(res, r, 0), privs[i]) == 0)
                *held |= 1u << i;
    PQclear(res);
    return CLI_OK;
}

/* grant (revoke = 0) or revoke: QUEUE ROLE [PRIVS], in one transaction
 * that reads what the role held before the change, to print the
 * difference. */
static int
grant_or_revoke(cli *ctx, int argc, char **argv, int revoke)
{
    const char *cmd = revoke ? "revoke" : "grant";
    const char *params[3];
    char wanted[64], list[64], where[96], other[64];
    unsigned want = ALL_PRIVS, held, changed;
    int rc = parse_opts(cmd, argc, argv, NULL);
    PGresult *res;

    if (rc >= 0)
        return rc;
    if (argc - optind != 3 && (argc - optind != 2 || !revoke))
        return cli_usage_error(cmd, revoke ? "expected QUEUE ROLE [PRIVS]"
                                           : "expected QUEUE ROLE PRIVS");
    params[0] = argv[optind];
    params[1] = argv[optind + 1];
    params[2] = NULL;
    if ((rc = check_queue(params[0])) != CLI_OK ||
        (rc = check_role(cmd, params[1])) != CLI_OK)
        return rc;
    if (argc - optind == 3) {
        rc = parse_privs(cmd, argv[optind + 2], &want);
        if (rc != CLI_OK)
            return rc;
        params[2] = priv_list(want, wanted, sizeof wanted);
    }
    if ((rc = cli_connect(ctx, 1)) != CLI_OK || (rc = cli_begin(ctx)) != CLI_OK)
        return rc;
    rc = held_privs(ctx, cmd, params, &held);
    if (rc == CLI_OK) {
        res = cli_query(ctx, cmd, revoke ? revoke_sql : grant_sql, 3, params);
        rc = res == NULL ? CLI_ERR : CLI_OK;
        PQclear(res);
    }
    if (rc != CLI_OK) {
        cli_rollback(ctx);
        return rc;
    }
    if ((rc = cli_commit(ctx)) != CLI_OK)
        return rc;
    target(params[0], where, sizeof where);
    changed = revoke ? want & held : want & ~held;
    priv_list(changed, list, sizeof list);
    if (revoke && changed != 0)
        printf("revoked %s on %s from %s\n", list, where, params[1]);
    else if (revoke)
        printf("nothing revoked: %s holds %s%s on %s\n", params[1],
               params[2] != NULL ? "none of " : "no privilege",
               params[2] != NULL ? params[2] : "", where);
    else if (changed != 0 && (want & held) != 0)
        printf("granted %s on %s to %s (already held: %s)\n", list, where,
               params[1], priv_list(want & held, other, sizeof other));
    else if (changed != 0)
        printf("granted %s on %s to %s\n", list, where, params[1]);
    else
        printf("nothing granted: %s already holds %s on %s\n", params[1],
               params[2], where);
    return CLI_OK;
}

int
cli_cmd_grant(cli *ctx, int argc, char **argv)
{
    return grant_or_revoke(ctx, argc, argv, 0);
}

int
cli_cmd_revoke(cli *ctx, int argc, char **argv)
{
    return grant_or_revoke(ctx, argc, argv, 1);
}

int
cli_cmd_grants(cli *ctx, int argc, char **argv)
{
    const char *params[1] = {NULL};
    int json = 0, rc = parse_opts("grants", argc, argv, &json);
    PGresult *res;

    if (rc >= 0)
        return rc;
    if (argc - optind > 1)
        return cli_usage_error("grants", "expected at most one QUEUE");
    if (argc - optind == 1) {
        params[0] = argv[optind];
        if ((rc = check_queue(params[0])) != CLI_OK)
            return rc;
    }
    if ((rc = cli_connect(ctx, 1)) != CLI_OK)
        return rc;
    res = cli_query(ctx, "grants",
                    json ? GRANTS_SQL("granted_at")
                         : GRANTS_SQL("date_trunc('second', granted_at)"),
                    1, params);
    if (res == NULL)
        return CLI_ERR;
    if (!json && PQntuples(res) == 0) {
        puts("no grants");
        rc = CLI_OK;
    } else {
        rc = cli_print_result(res, json, 0);
    }
    PQclear(res);
    return rc;
}
