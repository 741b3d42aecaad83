/*
 * policy.c - the worker's pure decisions (see policy.h). No I/O, no state.
 */
#include <string.h>
#include <sys/wait.h>

#include "policy.h"

txq_handler_result
policy_exec_result(int wait_status, int timed_out)
{
    if (timed_out)
        return TXQ_HANDLER_RETRY;
    if (WIFEXITED(wait_status)) {
        switch (WEXITSTATUS(wait_status)) {
        case POLICY_EXIT_OK:
            return TXQ_HANDLER_OK;
        case POLICY_EXIT_DATAERR:
            return TXQ_HANDLER_PERMANENT;
        default:
            return TXQ_HANDLER_RETRY;
        }
    }
    return TXQ_HANDLER_RETRY;
}

txq_handler_result
policy_sql_result(const char *sqlstate)
{
    if (sqlstate != NULL && strcmp(sqlstate, "TQ001") == 0)
        return TXQ_HANDLER_PERMANENT;
    return TXQ_HANDLER_RETRY;
}

double
policy_backoff(int failures, double base, double cap)
{
    double d = base;
    int i;

    if (failures <= 0)
        return 0;
    for (i = 1; i < failures && d < cap; i++)
        d *= 2;
    return d < cap ? d : cap;
}

double
policy_alert_wait(double last, double now, double interval)
{
    double due;

    if (last < 0 || interval <= 0)
        return 0;
    due = last + interval;
    return due > now ? due - now : 0;
}

const char *
policy_outcome_action(txq_outcome outcome)
{
    switch (outcome) {
    case TXQ_OUTCOME_RETRY:
        return "retry";
    case TXQ_OUTCOME_DEAD:
        return "dead";
    case TXQ_OUTCOME_NOTIFIED:
        return "notify";
    case TXQ_OUTCOME_IGNORED:
        return "ignore";
    case TXQ_OUTCOME_MOVED:
        return "moved";
    }
    return "unknown";
}
