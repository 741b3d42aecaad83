/*
 * test_worker_secrets.c - the worker's credentials stay with the worker.
 * Canary passwords in PGPASSWORD, TXQ_DB, the --db conninfo (password and
 * sslpassword) and an unrelated secret variable reach no exec: handler's
 * and no notify
 * command's environment, no argv of the worker or of its consumer
 * processes (what ps shows), and no line of the worker's log; what
 * --pass-env names does reach the programs, and the credentials cannot be
 * named there. A config file that holds a password (or an sslpassword)
 * and that group or others may read is refused, naming the file and its
 * mode; --check-config prints both masked.
 *
 * Spawns $TXQ_BUILD_DIR/txq-worker against the test's schema.
 * Needs TXQ_TEST_DSN (ctest's pg_start fixture provides it).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tt.h"

#include "handlers/wt.h"

#define CANARY_ENV    "canary-env-7f3a"
#define CANARY_DB     "canary-db-51c9"
#define CANARY_TXQ_DB "canary-txqdb-0be2"
#define CANARY_OTHER  "canary-other-9d44"
#define CANARY_SSL    "canary-sslpw-c610"

static int
setup(void **state)
{
    wt_test *w = wt_test_new(state);

    *state = w;
    return 0;
}

/* No canary in text (what names where it was found). */
static void
no_canary(const char *text, const char *what)
{
    static const char *const canaries[] = {CANARY_ENV, CANARY_DB, CANARY_TXQ_DB,
                                           CANARY_OTHER, CANARY_SSL};
    size_t i;

    for (i = 0; i < sizeof canaries / sizeof canaries[0]; i++)
        if (strstr(text, canaries[i]) != NULL)
            fail_msg("%s holds %s:\n%s", what, canaries[i], text);
}

static void
test_children_get_no_credentials(void **state)
{
    wt_test *w = *state;
    char h[256], script[128], envs[128], argvs[128], notify[128], nscript[128],
        ncmd[256], text[1024], db[600];
    const char *args[] = {
        "--handle",         h,    "--db", db, "--pass-env", "WT_PASSED",
        "--notify-command", ncmd, NULL};
    char *got;

    wt_test_queue(w, "jobs", "i_on_exhausted => 'notify'");
    wt_path(&w->dir, "envs", envs, sizeof envs);
    wt_path(&w->dir, "argvs", argvs, sizeof argvs);
    wt_path(&w->dir, "notify", notify, sizeof notify);
    /* The handler records its environment and its parent's argv (the
     * consumer process), then fails for good: the notify policy runs the
     * command, which records its environment. */
    wt_path(&w->dir, "h.sh", script, sizeof script);
    snprintf(text, sizeof text,
             "env >> '%s'\n"
             "tr '\\0' ' ' < /proc/$PPID/cmdline >> '%s'\n"
             "exit 65\n",
             envs, argvs);
    wt_write(script, text);
    snprintf(h, sizeof h, "jobs=exec:/bin/sh %s", script);
    wt_path(&w->dir, "n.sh", nscript, sizeof nscript);
    snprintf(text, sizeof text, "env >> '%s'\n", notify);
    wt_write(nscript, text);
    snprintf(ncmd, sizeof ncmd, "/bin/sh %s", nscript);
    /* trust authentication ignores the passwords, and a unix socket has no
     * TLS to use sslpassword: the worker connects. */
    snprintf(db, sizeof db, "%s password=%s sslpassword=%s", tt_dsn(),
             CANARY_DB, CANARY_SSL);

    setenv("PGPASSWORD", CANARY_ENV, 1);
    setenv("TXQ_DB", "password=" CANARY_TXQ_DB, 1);
    setenv("WT_SERVICE_TOKEN", CANARY_OTHER, 1);
    setenv("WT_PASSED", "passed-on", 1);
    tt_send(w->f, w->f->pg, "jobs", "x");
    wt_test_start(w, args);
    unsetenv("PGPASSWORD");
    unsetenv("TXQ_DB");
    unsetenv("WT_SERVICE_TOKEN");
    unsetenv("WT_PASSED");

    wt_await(w->f->pg, 1, 20, "select count(*) from alerts where delivered");
    wt_await_file(notify, 10);
    tt_sleep_ms(200);

    /* Under valgrind (./run test --valgrind) the process is valgrind,
     * and /proc shows valgrind's own copy of the command line, which the
     * program cannot reach: only its environment and log are checked. */
    got = tt_cmdline(w->worker);
    assert_non_null(strstr(got, "--db")); /* read while it runs */
    if (strstr(got, "valgrind") == NULL)
        no_canary(got, "the worker's argv");
    else
        print_message("under valgrind: argv not checked\n");
    free(got);
    got = wt_read(argvs);
    assert_non_null(strstr(got, "txq-worker"));
    if (strstr(got, "valgrind") == NULL)
        no_canary(got, "a consumer process's argv");
    free(got);
    got = wt_read(envs);
    assert_non_null(strstr(got, "TXQ_MESSAGE_ID="));
    assert_non_null(strstr(got, "WT_PASSED=passed-on"));
    assert_non_null(strstr(got, "PATH="));
    assert_null(strstr(got, "PGPASSWORD"));
    assert_null(strstr(got, "TXQ_DB"));
    no_canary(got, "the exec: handler's environment");
    free(got);
    got = wt_read(notify);
    assert_non_null(strstr(got, "TXQ_ALERT_QUEUE=jobs"));
    assert_non_null(strstr(got, "WT_PASSED=passed-on"));
    no_canary(got, "the notify command's environment");
    free(got);
    wt_test_stop(w);
    got = wt_read(w->log);
    no_canary(got, "the worker's log");
    free(got);
}

static void
test_credentials_cannot_be_passed(void **state)
{
    wt_test *w = *state;
    const char *pw[] = {"--handle",        "jobs=exec:/bin/true", "--pass-env",
                        "HOME,PGPASSWORD", "--check-config",      NULL};
    const char *db[] = {"--handle", "jobs=exec:/bin/true", "--pass-env",
                        "TXQ_DB",   "--check-config",      NULL};
    const char *bad[] = {"--handle", "jobs=exec:/bin/true", "--pass-env",
                         "A,1B",     "--check-config",      NULL};
    char *log;

    assert_int_equal(wt_test_run(w, pw), 2);
    assert_int_equal(wt_test_run(w, db), 2);
    assert_int_equal(wt_test_run(w, bad), 2);
    log = wt_read(w->log);
    assert_non_null(strstr(log, "PGPASSWORD carries the worker's"));
    assert_non_null(strstr(log, "TXQ_DB carries the worker's"));
    assert_non_null(strstr(log, "\"1B\" is not a variable name"));
    free(log);
}

static void
test_readable_password_file_refused(void **state)
{
    wt_test *w = *state;
    char cfg[128], text[700];
    const char *args[] = {"--config", cfg, "--check-config", NULL};
    char *log;

    wt_test_queue(w, "jobs", NULL); /* --check-config looks for it */
    wt_path(&w->dir, "pw.ini", cfg, sizeof cfg);
    snprintf(text, sizeof text,
             "[worker]\ndb = %s password=" CANARY_DB
             "\n[queue.jobs]\nhandler = exec:/bin/true\n",
             tt_dsn());
    wt_write(cfg, text);
    assert_int_equal(chmod(cfg, 0644), 0);
    assert_int_equal(wt_test_run(w, args), 2);
    log = wt_read(w->log);
    assert_non_null(strstr(log, "pw.ini: holds a password"));
    assert_non_null(strstr(log, "mode is 0644"));
    free(log);

    /* 0600: accepted (the test's --db flag then replaces the file's). */
    assert_int_equal(chmod(cfg, 0600), 0);
    assert_int_equal(wt_test_run(w, args), 0);
    log = wt_read(w->log);
    no_canary(log, "the worker's output");
    free(log);

    /* Without a password, a readable file is fine. */
    snprintf(text, sizeof text,
             "[worker]\ndb = %s\n[queue.jobs]\nhandler = exec:/bin/true\n",
             tt_dsn());
    wt_write(cfg, text);
    assert_int_equal(chmod(cfg, 0644), 0);
    assert_int_equal(wt_test_run(w, args), 0);

    /* An sslpassword (the pass phrase of an encrypted sslkey) is a
     * password too. */
    snprintf(text, sizeof text,
             "[worker]\ndb = %s sslpassword=" CANARY_SSL
             "\n[queue.jobs]\nhandler = exec:/bin/true\n",
             tt_dsn());
    wt_write(cfg, text);
    wt_write(w->log, "");
    assert_int_equal(wt_test_run(w, args), 2);
    log = wt_read(w->log);
    assert_non_null(strstr(log, "pw.ini: holds a password"));
    no_canary(log, "the worker's output");
    free(log);
    assert_int_equal(chmod(cfg, 0600), 0);
    assert_int_equal(wt_test_run(w, args), 0);
}

/* --check-config prints the conninfo with its password and sslpassword
 * masked. */
static void
test_check_config_masks_secrets(void **state)
{
    wt_test *w = *state;
    char db[600];
    const char *args[] = {"--handle", "jobs=exec:/bin/true", "--db",
                          db,         "--check-config",      NULL};
    char *log;

    wt_test_queue(w, "jobs", NULL); /* --check-config looks for it */
    snprintf(db, sizeof db, "%s password=%s sslpassword=%s", tt_dsn(),
             CANARY_DB, CANARY_SSL);
    assert_int_equal(wt_test_run(w, args), 0);
    log = wt_read(w->log);
    assert_non_null(strstr(log, " password=********"));
    assert_non_null(strstr(log, " sslpassword=********"));
    no_canary(log, "the worker's output");
    free(log);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_children_get_no_credentials, setup,
                                        wt_test_teardown),
        cmocka_unit_test_setup_teardown(test_credentials_cannot_be_passed,
                                        setup, wt_test_teardown),
        cmocka_unit_test_setup_teardown(test_readable_password_file_refused,
                                        setup, wt_test_teardown),
        cmocka_unit_test_setup_teardown(test_check_config_masks_secrets, setup,
                                        wt_test_teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
