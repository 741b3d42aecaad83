/*
 * policy.h - txq-worker's decisions as pure functions (no I/O), unit-tested
 * without a database: how a handler's result maps to what the consume loop
 * does, how long to wait before restarting or reconnecting, and when an
 * alert command may run. The queue's own failure policy (backoff, max
 * attempts, review / ignore / notify) is applied by txq_fail in SQL.
 */
#ifndef TXQ_WORKER_POLICY_H
#define TXQ_WORKER_POLICY_H

#include "txq.h"

/* Exit codes of exec handlers (sysexits.h). */
#define POLICY_EXIT_OK       0
#define POLICY_EXIT_DATAERR  65 /* permanent failure */
#define POLICY_EXIT_TEMPFAIL 75 /* retry */

/*
 * policy_exec_result - the result of an exec handler from its wait status
 * (as waitpid gives it) and whether the worker killed it for overrunning
 * its timeout: exit 0 OK, 65 PERMANENT, 75 and anything else RETRY; killed
 * by a signal or timed out: RETRY.
 */
txq_handler_result policy_exec_result(int wait_status, int timed_out);

/*
 * policy_sql_result - the result of a SQL handler that raised an error
 * with this SQLSTATE (NULL or "" when none): TQ001 is PERMANENT, anything
 * else RETRY.
 */
txq_handler_result policy_sql_result(const char *sqlstate);

/*
 * policy_backoff - seconds to wait before restart/reconnect attempt
 * `failures` (1 for the first failure): base * 2^(failures-1), capped at
 * cap; 0 when failures <= 0.
 */
double policy_backoff(int failures, double base, double cap);

/*
 * policy_alert_wait - seconds until an alert command for a queue may run,
 * given when the last one ran (last < 0: never) and the interval; 0 means
 * now.
 */
double policy_alert_wait(double last, double now, double interval);

/* policy_outcome_action - the log word of a txq_fail outcome. */
const char *policy_outcome_action(txq_outcome outcome);

#endif /* TXQ_WORKER_POLICY_H */
