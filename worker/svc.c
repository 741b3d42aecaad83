/*
 * svc.c - notifications to the service manager (see svc.h), through
 * libsystemd's sd_notify: the protocol is a datagram of NAME=VALUE lines
 * on the unix socket NOTIFY_SOCKET names. Only the supervisor calls these;
 * the environment is left as it is (a consumer process ignores it, and
 * exec: handlers never get NOTIFY_SOCKET: childenv.c passes only what it
 * names).
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <systemd/sd-daemon.h>

#include "log.h"
#include "svc.h"

static char last_status[256];
static int warned;

static void
send_state(const char *state)
{
    int rc = sd_notify(0, state);

    /* Once: a broken socket would otherwise log every watchdog ping. */
    if (rc < 0 && !warned) {
        warned = 1;
        wlog(WLOG_WARN, "sd_notify failed", "state=%s err=%s", state,
             strerror(-rc));
    }
}

double
svc_init(void)
{
    uint64_t usec = 0;

    if (sd_watchdog_enabled(0, &usec) <= 0 || usec == 0)
        return 0;
    wlog(WLOG_INFO, "watchdog enabled", "interval_s=%.3f", (double)usec / 2e6);
    return (double)usec / 2e6;
}

void
svc_ready(const char *status)
{
    char state[320];

    if (status != NULL) {
        snprintf(last_status, sizeof last_status, "%s", status);
        snprintf(state, sizeof state, "READY=1\nSTATUS=%s", status);
        send_state(state);
    } else {
        send_state("READY=1");
    }
}

void
svc_reloading(void)
{
    struct timespec ts;
    char state[96];

    /* MONOTONIC_USEC: what Type=notify-reload units must send along. */
    clock_gettime(CLOCK_MONOTONIC, &ts);
    snprintf(state, sizeof state, "RELOADING=1\nMONOTONIC_USEC=%llu",
             (unsigned long long)ts.tv_sec * 1000000ULL +
                 (unsigned long long)ts.tv_nsec / 1000ULL);
    send_state(state);
}

void
svc_stopping(void)
{
    send_state("STOPPING=1");
}

void
svc_watchdog(void)
{
    send_state("WATCHDOG=1");
}

void
svc_status(const char *text)
{
    char state[300];

    if (strcmp(text, last_status) == 0)
        return;
    snprintf(last_status, sizeof last_status, "%s", text);
    snprintf(state, sizeof state, "STATUS=%s", last_status);
    send_state(state);
}
