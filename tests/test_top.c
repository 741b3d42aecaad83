/*
 * test_top.c - `txq top` in a real terminal: tmux runs it, the test reads
 * the screen (capture-pane): every queue with its depth, a paused queue
 * marked, acked per second while a consumer acks, and q quits.
 *
 * Needs TXQ_TEST_DSN (ctest's pg_start fixture provides it), tmux and
 * TXQ_BUILD_DIR.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tt.h"

static char sock[64];

/* Run a tmux command on the test's own server; its exit status. */
static int tmux(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int
tmux(const char *fmt, ...)
{
    char args[1024], line[1200];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    snprintf(line, sizeof line, "tmux -L %s %s >/dev/null 2>&1", sock, args);
    return system(line);
}

/* The screen as text (static buffer). */
static const char *
screen(void)
{
    static char buf[16384];
    char line[256];
    size_t n;
    FILE *p;

    snprintf(line, sizeof line, "tmux -L %s capture-pane -p -t top", sock);
    p = popen(line, "r");
    assert_non_null(p);
    n = fread(buf, 1, sizeof buf - 1, p);
    buf[n] = '\0';
    pclose(p);
    return buf;
}

/* The screen's line for queue q, split into its blank-separated words;
 * how many (0: not on the screen). */
static int
queue_line(const char *q, char words[12][32])
{
    const char *s = screen(), *l = s;
    size_t qn = strlen(q);
    int n = 0;

    while (*l != '\0') {
        const char *end = strchr(l, '\n');

        if (end == NULL)
            end = l + strlen(l);
        if ((size_t)(end - l) > qn && strncmp(l, q, qn) == 0 && l[qn] == ' ') {
            const char *p = l;

            while (p < end && n < 12) {
                size_t w;

                while (p < end && *p == ' ')
                    p++;
                w = strcspn(p, " \n");
                if (w == 0)
                    break;
                snprintf(words[n++], 32, "%.*s", (int)w, p);
                p += w;
            }
            return n;
        }
        l = *end != '\0' ? end + 1 : end;
    }
    return 0;
}

/* Wait up to secs for queue q's line to show want in word i. */
static void
await_word(const char *q, int i, const char *want, double secs)
{
    double end = tt_now() + secs;
    char w[12][32];
    int n = 0;

    while (tt_now() < end) {
        n = queue_line(q, w);
        if (n > i && strcmp(w[i], want) == 0)
            return;
        tt_sleep_ms(100);
    }
    fail_msg("txq top: %s's word %d is not \"%s\"; the screen:\n%s", q, i, want,
             screen());
}

static void
test_top_in_a_terminal(void **state)
{
    tt_fixture *f = *state;
    const char *bdir = getenv("TXQ_BUILD_DIR");
    char w[12][32];
    double end, acked = 0;
    int i, n;

    assert_non_null(bdir);
    snprintf(sock, sizeof sock, "txq-test-top-%d", (int)getpid());
    tt_queue(f, "alpha", NULL);
    tt_queue(f, "beta", NULL);
    tt_exec(f->pg, "select pause('beta')");
    for (i = 0; i < 5; i++)
        tt_send(f, f->pg, "alpha", "a");
    tt_send(f, f->pg, "beta", "b");

    /* A 160x30 terminal; the tool finds its database in $TXQ_DB. */
    assert_int_equal(tmux("new-session -d -s top -x 160 -y 30 -e 'TXQ_DB=%s' "
                          "'%s/txq --schema %s top --interval 0.5'",
                          tt_dsn(), bdir, f->schema),
                     0);
    /* QUEUE STATE DEPTH ...: alpha has no state, so its depth is word 1;
     * beta's state is "paused", its depth word 2. */
    await_word("alpha", 1, "5", 10);
    await_word("beta", 1, "paused", 10);
    await_word("beta", 2, "1", 10);
    assert_non_null(strstr(screen(), "ACKED/s"));

    /* A consumer acks for two seconds: acked/s shows it. */
    end = tt_now() + 2.5;
    while (tt_now() < end) {
        for (i = 0; i < 20; i++)
            tt_send(f, f->pg, "alpha", "x");
        tt_exec(f->pg, "select count(*) from pop('alpha', 20)");
        tt_sleep_ms(50);
        n = queue_line("alpha", w);
        if (n >= 9 && atof(w[7]) > acked)
            acked = atof(w[7]);
    }
    printf("txq top showed alpha acked at up to %.1f/s\n", acked);
    assert_true(acked > 10);

    /* q quits: the session ends with the program. */
    assert_int_equal(tmux("send-keys -t top q"), 0);
    end = tt_now() + 5;
    while (tt_now() < end && tmux("has-session -t top") == 0)
        tt_sleep_ms(50);
    assert_true(tmux("has-session -t top") != 0);
    tmux("kill-server");
}

static int
teardown(void **state)
{
    if (sock[0] != '\0')
        tmux("kill-server");
    return tt_teardown(state);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_top_in_a_terminal, tt_setup,
                                        teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
