/*
 * svc.h - the service manager's notification protocol (sd_notify, with
 * libsystemd): READY=1, RELOADING=1, STOPPING=1, WATCHDOG=1 and STATUS=
 * lines for a unit of Type=notify. Without NOTIFY_SOCKET in the
 * environment every call does nothing.
 */
#ifndef TXQ_WORKER_SVC_H
#define TXQ_WORKER_SVC_H

/*
 * svc_init - read the watchdog settings (WATCHDOG_USEC, WATCHDOG_PID) of
 * the service manager. Returns the interval between watchdog pings in
 * seconds (half of WATCHDOG_USEC), or 0 when no watchdog is asked for.
 */
double svc_init(void);

/* svc_ready - READY=1 (with the status line, when not NULL). */
void svc_ready(const char *status);

/* svc_reloading - RELOADING=1 (and MONOTONIC_USEC); READY=1 follows. */
void svc_reloading(void);

/* svc_stopping - STOPPING=1: the worker drains. */
void svc_stopping(void);

/* svc_watchdog - WATCHDOG=1. */
void svc_watchdog(void);

/* svc_status - STATUS=text, sent only when it differs from the last. */
void svc_status(const char *text);

#endif /* TXQ_WORKER_SVC_H */
