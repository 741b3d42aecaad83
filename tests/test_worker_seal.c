/*
 * test_worker_seal.c - txq-worker on encrypted queues: an exec: handler
 * gets the opened body on stdin and nothing of the keys (no key file in
 * its environment); a body that does not open never reaches the handler
 * and is dead-lettered naming TXQ_EDECRYPT; an sql: handler on an
 * encrypted queue, or an encrypted queue without keys, stops the worker
 * at start (exit 1) with a clear message.
 * Needs TXQ_TEST_DSN and the txq-worker binary (TXQ_BUILD_DIR).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tt.h"

#include "handlers/wt.h"

#define K1 "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE="

static int
setup(void **state)
{
    wt_test *w = wt_test_new(state);

    *state = w;
    return 0;
}

/* The key file in the test's directory (mode 0600), its path into path;
 * f->c holds its keys. */
static txq_keyring *
keys(wt_test *w, char *path, size_t size)
{
    char err[256];
    txq_keyring *kr = NULL;

    wt_path(&w->dir, "keys", path, size);
    wt_write(path, "k1 " K1 "\n");
    assert_int_equal(chmod(path, 0600), 0);
    if (txq_keyring_load(path, &kr, err, sizeof err) != TXQ_OK)
        fail_msg("%s", err);
    assert_txq_ok(w->f->c, txq_client_set_keyring(w->f->c, kr));
    return kr;
}

static void
test_exec_handler_gets_plaintext(void **state)
{
    wt_test *w = *state;
    char h[512], script[128], out[128], envf[128], text[1024], path[128];
    const char *args[] = {"--handle", h, "--pass-env", "KEEP_ME", NULL};
    txq_keyring *kr = keys(w, path, sizeof path);
    int64_t good = 0, bad = 0;
    char *got;

    wt_test_queue(w, "sec", "i_encrypt => true");
    wt_path(&w->dir, "h.sh", script, sizeof script);
    wt_path(&w->dir, "out", out, sizeof out);
    wt_path(&w->dir, "env", envf, sizeof envf);
    snprintf(text, sizeof text,
             "cat >> '%s'; echo \"|$TXQ_MESSAGE_ID\" >> '%s'; env > '%s'\n",
             out, out, envf);
    wt_write(script, text);
    snprintf(h, sizeof h, "sec=exec:/bin/sh %s", script);
    assert_txq_ok(w->f->c, txq_send(w->f->c, w->f->pg, "sec", "the plaintext",
                                    13, NULL, &good));
    assert_txq_ok(w->f->c,
                  txq_send(w->f->c, w->f->pg, "sec", "altered", 7, NULL, &bad));
    tt_exec(w->f->pg,
            "update messages set body = set_byte(body, 33, "
            "get_byte(body, 33) # 1) where id = %lld",
            (long long)bad);
    /* The key file named in the worker's environment, the way a service
     * manager would: its program never sees it. */
    setenv("TXQ_KEY_FILE", path, 1);
    setenv("KEEP_ME", "1", 1);
    wt_test_start(w, args);
    unsetenv("TXQ_KEY_FILE");
    unsetenv("KEEP_ME");
    wt_await(w->f->pg, 1, 20, "select count(*) from dead_letter_messages");
    wt_await(w->f->pg, 0, 10, "select count(*) from messages");
    wt_test_stop(w);
    got = wt_read(out);
    snprintf(text, sizeof text, "the plaintext|%lld\n", (long long)good);
    assert_string_equal(got, text);
    free(got);
    got = wt_read(envf);
    assert_non_null(strstr(got, "KEEP_ME=1"));
    assert_null(strstr(got, "TXQ_KEY_FILE"));
    assert_null(strstr(got, path));
    free(got);
    snprintf(text, sizeof text,
             "select count(*) from dead_letter_messages where id = %lld and "
             "reason = 'permanent' and attempts = 1 and last_error like "
             "'TXQ_EDECRYPT: message %lld of queue \"sec\": authentication "
             "failed%%'",
             (long long)bad, (long long)bad);
    assert_int_equal(tt_scalar(w->f->pg, "%s", text), 1);
    txq_client_set_keyring(w->f->c, NULL);
    txq_keyring_free(kr);
}

static void
test_sql_handler_refused(void **state)
{
    wt_test *w = *state;
    char h[256], path[128];
    const char *args[] = {"--handle", h, "--key-file", path, NULL};
    const char *nokey[] = {"--handle", h, NULL};
    txq_keyring *kr = keys(w, path, sizeof path);
    char *log;

    wt_test_h_ok(w);
    wt_test_queue(w, "sec", "i_encrypt => true");
    tt_send(w->f, w->f->pg, "sec", "x");
    snprintf(h, sizeof h, "sec=sql:%s.h_ok", w->f->schema);
    assert_int_equal(wt_test_run(w, args), 1);
    log = wt_read(w->log);
    assert_non_null(strstr(log, "queue sec is encrypted: an sql: handler "
                                "would run in the server, which never holds "
                                "the keys"));
    free(log);
    /* An exec: handler but no keys. */
    snprintf(h, sizeof h, "sec=exec:/bin/true");
    assert_int_equal(wt_test_run(w, nokey), 1);
    log = wt_read(w->log);
    assert_non_null(strstr(log, "queue sec is encrypted: give the worker its "
                                "keys"));
    free(log);
    /* A key file others may read. */
    assert_int_equal(chmod(path, 0644), 0);
    assert_int_equal(wt_test_run(w, args), 1);
    log = wt_read(w->log);
    assert_non_null(strstr(log, "mode 0644 lets group or others read it"));
    free(log);
    /* Nothing was claimed. */
    assert_int_equal(tt_scalar(w->f->pg, "select attempts from messages"), 0);
    txq_client_set_keyring(w->f->c, NULL);
    txq_keyring_free(kr);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_exec_handler_gets_plaintext, setup,
                                        wt_test_teardown),
        cmocka_unit_test_setup_teardown(test_sql_handler_refused, setup,
                                        wt_test_teardown),
    };

    tt_dsn();
    return cmocka_run_group_tests_name("worker_seal", tests, NULL, NULL);
}
