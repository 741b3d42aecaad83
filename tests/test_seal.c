/*
 * test_seal.c - encrypted queues through libtxq: the key file (its mode,
 * its lines), bodies sealed on send and opened on receive, key rotation,
 * and every way a body fails to open (moved to another message, altered,
 * an unknown key, no key ring) giving TXQ_EDECRYPT and never the bytes;
 * plaintext refused by the server on every path; ids of send_sealed()
 * only as reserved by seal_prepare() in the same session.
 * Needs TXQ_TEST_DSN.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tt.h"

#define K1 "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE="
#define K2 "AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI="

/* A key file with content and mode; its path into path. */
static void
keyfile(char *path, size_t size, const char *content, mode_t mode)
{
    int fd;

    snprintf(path, size, "/tmp/txq-test-keys-XXXXXX");
    fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, content, strlen(content)),
                     (ssize_t)strlen(content));
    assert_int_equal(fchmod(fd, mode), 0);
    close(fd);
}

/* A key ring of content (mode 0600). */
static txq_keyring *
ring(const char *content)
{
    char path[64], err[256];
    txq_keyring *kr = NULL;
    txq_err rc;

    keyfile(path, sizeof path, content, 0600);
    rc = txq_keyring_load(path, &kr, err, sizeof err);
    unlink(path);
    if (rc != TXQ_OK)
        fail_msg("txq_keyring_load: %s", err);
    return kr;
}

/* An encrypted queue "sec", a plain "jobs", and f->c holding kr. */
static void
queues(tt_fixture *f, const txq_keyring *kr)
{
    txq_queue_opts o = {.size = sizeof(txq_queue_opts), .encrypt = 1};

    tt_queue(f, "sec", &o);
    tt_queue(f, "jobs", NULL);
    assert_txq_ok(f->c, txq_client_set_keyring(f->c, kr));
}

static void
claim(tt_fixture *f, const char *queue, size_t max, txq_msg ***m, size_t *n)
{
    assert_txq_ok(f->c, txq_claim(f->c, f->pg, queue, max, NULL, m, n));
}

static void
test_round_trip(void **state)
{
    tt_fixture *f = *state;
    txq_keyring *kr = ring("# the keys\n\nk1 " K1 "\n");
    txq_send_opts o = {.size = sizeof(txq_send_opts),
                       .headers_json = "{\"b\": 2,  \"a\": \"x\"}",
                       .priority = 5,
                       .correlation_id = "c9"};
    const void *bodies[] = {"first", "", "third"};
    size_t lens[] = {5, 0, 5}, n = 0, len = 0;
    int64_t id = 0, ids[3] = {0};
    txq_msg **m = NULL;

    queues(f, kr);
    assert_string_equal(txq_keyring_current(kr), "k1");
    assert_txq_ok(f->c,
                  txq_send(f->c, f->pg, "sec", "secret words", 12, &o, &id));
    /* Stored sealed: magic, key id, no plaintext; headers in the clear. */
    assert_int_equal(tt_scalar(f->pg,
                               "select count(*) from messages where id = %lld "
                               "and substr(body, 1, 8) = '\\x5458514501026b31' "
                               "and position('secret'::bytea in body) = 0 "
                               "and octet_length(body) = 12 + 48 and "
                               "headers = '{\"a\": \"x\", \"b\": 2}' and "
                               "priority = 5 and correlation_id = 'c9'",
                               (long long)id),
                     1);
    claim(f, "sec", 10, &m, &n);
    assert_int_equal(n, 1);
    assert_int_equal(txq_msg_id(m[0]), id);
    assert_null(txq_msg_decrypt_error(m[0]));
    assert_memory_equal(txq_msg_body(m[0], &len), "secret words", 12);
    assert_int_equal(len, 12);
    assert_txq_ok(f->c, txq_ack(f->c, f->pg, m[0]));
    txq_msgs_free(m, n);

    /* A batch, then a pop in a transaction and a take. */
    assert_txq_ok(
        f->c, txq_send_batch(f->c, f->pg, "sec", bodies, lens, 3, NULL, ids));
    assert_true(ids[0] > id && ids[1] > ids[0] && ids[2] > ids[1]);
    tt_exec(f->pg, "begin");
    assert_txq_ok(f->c, txq_pop(f->c, f->pg, "sec", 2, &m, &n));
    assert_int_equal(n, 2);
    assert_int_equal(txq_msg_id(m[0]), ids[0]);
    assert_string_equal(txq_msg_body(m[0], NULL), "first");
    assert_non_null(txq_msg_body(m[1], &len));
    assert_int_equal(len, 0);
    txq_msgs_free(m, n);
    assert_txq_ok(f->c, txq_receive(f->c, f->pg, "sec", 5, NULL, &m, &n));
    assert_int_equal(n, 1);
    assert_string_equal(txq_msg_body(m[0], NULL), "third");
    txq_msgs_free(m, n);
    tt_exec(f->pg, "commit");

    /* A plain queue with a key ring attached: sent as it is. */
    assert_txq_ok(f->c, txq_send(f->c, f->pg, "jobs", "open", 4, NULL, &id));
    assert_int_equal(tt_scalar(f->pg,
                               "select count(*) from messages where id = %lld "
                               "and body = 'open'",
                               (long long)id),
                     1);
    claim(f, "jobs", 1, &m, &n);
    assert_string_equal(txq_msg_body(m[0], NULL), "open");
    txq_msgs_free(m, n);
    txq_client_set_keyring(f->c, NULL);
    txq_keyring_free(kr);
}

/* The async forms seal too. */
static void
test_async(void **state)
{
    tt_fixture *f = *state;
    txq_keyring *kr = ring("k1 " K1 "\n");
    const void *bodies[] = {"b1", "b2"};
    size_t lens[] = {2, 2}, n = 0;
    int64_t id = 0, ids[2] = {0};
    txq_msg **m = NULL;

    queues(f, kr);
    assert_txq_ok(f->c, txq_send_start(f->c, f->pg, "sec", "a1", 2, NULL));
    assert_txq_ok(f->c, txq_send_finish(f->c, f->pg, &id));
    assert_txq_ok(
        f->c, txq_send_batch_start(f->c, f->pg, "sec", bodies, lens, 2, NULL));
    assert_txq_ok(f->c, txq_send_batch_finish(f->c, f->pg, ids));
    assert_true(id > 0 && ids[0] > id && ids[1] > ids[0]);
    assert_int_equal(tt_scalar(f->pg, "select count(*) from messages where "
                                      "substr(body, 1, 4) = 'TXQE'"),
                     3);
    tt_exec(f->pg, "begin");
    assert_txq_ok(f->c, txq_pop_start(f->c, f->pg, "sec", 3));
    assert_txq_ok(f->c, txq_pop_finish(f->c, f->pg, &m, &n));
    assert_int_equal(n, 3);
    assert_string_equal(txq_msg_body(m[0], NULL), "a1");
    assert_string_equal(txq_msg_body(m[2], NULL), "b2");
    txq_msgs_free(m, n);
    tt_exec(f->pg, "commit");
    txq_client_set_keyring(f->c, NULL);
    txq_keyring_free(kr);
}

/* Rotation: the last key seals, every key opens; a ring without the key
 * a body was sealed with cannot open it. */
static void
test_rotation(void **state)
{
    tt_fixture *f = *state;
    txq_keyring *old = ring("k1 " K1 "\n");
    txq_keyring *both = ring("k1 " K1 "\nk2 " K2 "\n");
    txq_keyring *only2 = ring("k2 " K2 "\n");
    int64_t a = 0, b = 0;
    txq_msg **m = NULL;
    size_t n = 0;

    queues(f, old);
    assert_txq_ok(f->c, txq_send(f->c, f->pg, "sec", "old", 3, NULL, &a));
    assert_txq_ok(f->c, txq_client_set_keyring(f->c, both));
    assert_string_equal(txq_keyring_current(both), "k2");
    assert_txq_ok(f->c, txq_send(f->c, f->pg, "sec", "new", 3, NULL, &b));
    assert_int_equal(tt_scalar(f->pg,
                               "select count(*) from messages where id = %lld "
                               "and substr(body, 6, 3) = '\\x026b32'",
                               (long long)b),
                     1);

    /* Only k2: the k1 message fails, and says which key it lacks. */
    assert_txq_ok(f->c, txq_client_set_keyring(f->c, only2));
    assert_txq_rc(f->c, txq_claim(f->c, f->pg, "sec", 2, NULL, &m, &n),
                  TXQ_EDECRYPT);
    assert_int_equal(n, 2);
    assert_int_equal(txq_msg_id(m[0]), a);
    assert_non_null(strstr(txq_errmsg(f->c), "key id \"k1\""));
    assert_non_null(strstr(txq_msg_decrypt_error(m[0]), "key id"));
    assert_null(txq_msg_body(m[0], NULL));
    assert_string_equal(txq_msg_body(m[1], NULL), "new");
    txq_msgs_free(m, n);

    /* Both keys open both. */
    tt_exec(f->pg, "update messages set visible_at = now()");
    assert_txq_ok(f->c, txq_client_set_keyring(f->c, both));
    claim(f, "sec", 2, &m, &n);
    assert_int_equal(n, 2);
    assert_string_equal(txq_msg_body(m[0], NULL), "old");
    assert_string_equal(txq_msg_body(m[1], NULL), "new");
    txq_msgs_free(m, n);
    txq_client_set_keyring(f->c, NULL);
    txq_keyring_free(old);
    txq_keyring_free(both);
    txq_keyring_free(only2);
}

static void
load_fails(const char *content, mode_t mode, const char *needle)
{
    char path[64], err[256], want[128];
    txq_keyring *kr = (txq_keyring *)1;

    keyfile(path, sizeof path, content, mode);
    assert_int_equal(txq_keyring_load(path, &kr, err, sizeof err), TXQ_EINVAL);
    assert_null(kr);
    snprintf(want, sizeof want, "%s", needle);
    if (strstr(err, want) == NULL || strstr(err, path) == NULL)
        fail_msg("want \"%s\" and the path in \"%s\"", want, err);
    unlink(path);
}

static void
test_key_file(void **state)
{
    char path[64], err[256];
    txq_keyring *kr = NULL;

    (void)state;
    load_fails("k1 " K1 "\n", 0644, "mode 0644");
    load_fails("k1 " K1 "\n", 0640, "mode 0640");
    load_fails("# ok\nk1 " K1 "\nk2 " K2 " extra\n", 0600,
               ":3: more than two fields");
    load_fails("k1 " K1 "\nk2\n", 0600, ":2: no key after the id");
    load_fails("k1 AAAA\n", 0600, ":1: the key is not 32 bytes");
    load_fails("k1 " K1 "x\n", 0600, ":1: the key is not 32 bytes");
    load_fails("k/1 " K1 "\n", 0600, ":1: key id has a character");
    load_fails("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa " K1 "\n", 0600,
               ":1: key id longer than 32");
    load_fails("k1 " K1 "\n\n k2 " K2 "\n", 0600, ":3: starts with a blank");
    load_fails("k1 " K1 "\nk1 " K2 "\n", 0600,
               ":2: key id \"k1\" appears twice");
    load_fails("# nothing\n\n", 0600, "no key");
    assert_int_equal(
        txq_keyring_load("/nonexistent/keys", &kr, err, sizeof err),
        TXQ_EINVAL);
    assert_non_null(strstr(err, "/nonexistent/keys"));
    /* 0400 and CRLF line ends are fine. */
    keyfile(path, sizeof path, "k1 " K1 "\r\nk2 " K2 "\r\n", 0400);
    assert_int_equal(txq_keyring_load(path, &kr, err, sizeof err), TXQ_OK);
    assert_string_equal(txq_keyring_current(kr), "k2");
    txq_keyring_free(kr);
    unlink(path);
}

/* Two messages, and B given A's sealed body (as the superuser could):
 * B no longer opens (the seal binds the id); A still does. */
static void
test_moved_body(void **state)
{
    tt_fixture *f = *state;
    txq_keyring *kr = ring("k1 " K1 "\n");
    int64_t a = 0, b = 0;
    txq_msg **m = NULL;
    size_t n = 0;
    char want[64];

    queues(f, kr);
    assert_txq_ok(f->c, txq_send(f->c, f->pg, "sec", "AAAA", 4, NULL, &a));
    assert_txq_ok(f->c, txq_send(f->c, f->pg, "sec", "BBBB", 4, NULL, &b));
    tt_exec(f->pg,
            "update messages set body = (select body from messages where "
            "id = %lld) where id = %lld",
            (long long)a, (long long)b);
    assert_txq_rc(f->c, txq_claim(f->c, f->pg, "sec", 2, NULL, &m, &n),
                  TXQ_EDECRYPT);
    snprintf(want, sizeof want, "message %lld of queue \"sec\"", (long long)b);
    assert_non_null(strstr(txq_errmsg(f->c), want));
    assert_non_null(strstr(txq_errmsg(f->c), "authentication failed"));
    assert_int_equal(n, 2);
    assert_string_equal(txq_msg_body(m[0], NULL), "AAAA");
    assert_null(txq_msg_body(m[1], NULL));
    assert_non_null(txq_msg_decrypt_error(m[1]));
    /* The failed one can be failed for good: a dead letter. */
    assert_txq_ok(f->c, txq_fail(f->c, f->pg, m[1], "undecryptable",
                                 TXQ_FAIL_OPTS(.permanent = 1), NULL));
    txq_msgs_free(m, n);
    assert_int_equal(tt_scalar(f->pg,
                               "select count(*) from dead_letters where id = "
                               "%lld and encrypted",
                               (long long)b),
                     1);
    txq_client_set_keyring(f->c, NULL);
    txq_keyring_free(kr);
}

/* One byte of the ciphertext changed, the headers changed, the body made
 * plaintext, no key ring: none opens, none hands out its bytes. */
static void
test_tampered(void **state)
{
    tt_fixture *f = *state;
    txq_keyring *kr = ring("k1 " K1 "\n");
    int64_t ids[4] = {0};
    const void *bodies[] = {"one!", "two!", "three", "four"};
    size_t lens[] = {4, 4, 5, 4};
    txq_msg **m = NULL;
    size_t n = 0;

    queues(f, kr);
    assert_txq_ok(
        f->c, txq_send_batch(f->c, f->pg, "sec", bodies, lens, 4, NULL, ids));
    tt_exec(f->pg,
            "update messages set body = set_byte(body, 40, "
            "get_byte(body, 40) # 1) where id = %lld",
            (long long)ids[0]);
    tt_exec(f->pg, "update messages set headers = '{\"x\": 1}' where id = %lld",
            (long long)ids[1]);
    tt_exec(f->pg, "update messages set body = 'three' where id = %lld",
            (long long)ids[2]);
    assert_txq_rc(f->c, txq_claim(f->c, f->pg, "sec", 4, NULL, &m, &n),
                  TXQ_EDECRYPT);
    assert_int_equal(n, 4);
    assert_non_null(strstr(txq_msg_decrypt_error(m[0]), "authentication"));
    assert_non_null(strstr(txq_msg_decrypt_error(m[1]), "authentication"));
    assert_non_null(strstr(txq_msg_decrypt_error(m[2]), "not a sealed"));
    for (int i = 0; i < 3; i++) {
        size_t len = 99;

        assert_null(txq_msg_body(m[i], &len));
        assert_int_equal(len, 0);
    }
    assert_string_equal(txq_msg_body(m[3], NULL), "four");
    txq_msgs_free(m, n);

    /* No key ring: the queue's bodies are not handed out. */
    tt_exec(f->pg, "update messages set visible_at = now()");
    assert_txq_ok(f->c, txq_client_set_keyring(f->c, NULL));
    assert_txq_rc(f->c, txq_claim(f->c, f->pg, "sec", 4, NULL, &m, &n),
                  TXQ_EDECRYPT);
    assert_non_null(strstr(txq_errmsg(f->c), "no key ring"));
    assert_null(txq_msg_body(m[3], NULL));
    txq_msgs_free(m, n);
    txq_keyring_free(kr);
}

/* Plaintext never reaches an encrypted queue: SQL send(), send_batch(),
 * publish(), reply(), libtxq without a key ring (direct and not), a
 * producer's own INSERT. Nothing is written. */
static void
test_plaintext_refused(void **state)
{
    tt_fixture *f = *state;
    char role[64], msg[256];
    const void *bodies[] = {"p"};
    size_t lens[] = {1};
    PGconn *pg;

    queues(f, NULL);
    assert_string_equal(
        tt_fails(f->pg, msg, sizeof msg, "select send('sec', 'plain')"),
        "TQ005");
    assert_non_null(strstr(msg, "queue \"sec\" requires encryption"));
    assert_string_equal(tt_fails(f->pg, NULL, 0,
                                 "select send_batch('sec', array['a', "
                                 "'b']::bytea[])"),
                        "TQ005");
    tt_exec(f->pg, "select create_topic('news')");
    tt_exec(f->pg, "select subscribe('news', 'sec')");
    assert_string_equal(
        tt_fails(f->pg, msg, sizeof msg, "select publish('news', 'p')"),
        "TQ005");
    assert_non_null(strstr(msg, "reaches encrypted queue \"sec\""));
    tt_exec(f->pg, "select subscribe('news', 'jobs')");
    assert_string_equal(tt_fails(f->pg, NULL, 0, "select publish('news', 'p')"),
                        "TQ005");
    tt_exec(f->pg, "select create_topic('route', 'route', 'sec')");
    assert_string_equal(
        tt_fails(f->pg, NULL, 0, "select publish('route', 'p')"), "TQ005");
    assert_string_equal(
        tt_fails(f->pg, NULL, 0, "select reply('sec', 'c1', 'p')"), "TQ005");
    /* libtxq without a key ring, as the superuser (direct send). */
    assert_txq_rc(f->c, txq_send(f->c, f->pg, "sec", "p", 1, NULL, NULL),
                  TXQ_EINVAL);
    assert_string_equal(txq_sqlstate(f->c), "TQ005");
    assert_txq_rc(
        f->c, txq_send_batch(f->c, f->pg, "sec", bodies, lens, 1, NULL, NULL),
        TXQ_EINVAL);
    /* A producer: the direct send steps aside, send() refuses; its own
     * INSERT is refused by row security. */
    pg = tt_role_session(f, role, sizeof role, "txq_producer");
    assert_txq_rc(f->c, txq_send(f->c, pg, "sec", "p", 1, NULL, NULL),
                  TXQ_EINVAL);
    assert_string_equal(txq_sqlstate(f->c), "TQ005");
    assert_string_equal(
        tt_fails(pg, NULL, 0,
                 "insert into messages (queue_id, visible_at, enqueued_at, "
                 "headers, body) select queue_id, now(), now(), '{}', 'p' "
                 "from queues where name = 'sec'"),
        "42501");
    tt_end_role_session(f, pg, role);
    assert_int_equal(tt_depth(f), 0);
    /* fifo and encryption do not go together; nor does a change of it on
     * a queue that holds messages. */
    assert_string_equal(tt_fails(f->pg, msg, sizeof msg,
                                 "select create_queue('ff', 'fifo', "
                                 "i_encrypt => true)"),
                        "22023");
    assert_non_null(strstr(msg, "fifo queue cannot be encrypted"));
    tt_exec(f->pg, "select send('jobs', 'x')");
    assert_string_equal(tt_fails(f->pg, NULL, 0,
                                 "select alter_queue('jobs', i_encrypt => "
                                 "true)"),
                        "55000");
    tt_exec(f->pg, "select alter_queue('sec', i_encrypt => false)");
    tt_exec(f->pg, "select send('sec', 'now plain')");
}

/* send_sealed() takes only ids this session reserved, each once. */
static void
test_reserved_ids(void **state)
{
    tt_fixture *f = *state;
    PGconn *other = tt_connect(f->schema);
    char env[256], msg[256];
    long long mine, theirs;

    queues(f, NULL);
    /* A well-formed envelope (the server cannot check more). */
    snprintf(env, sizeof env,
             "'\\x5458514501026b31'::bytea || '\\x%048d'::bytea || "
             "'\\x%032d'::bytea",
             0, 0);
    mine = tt_scalar(f->pg, "select ids[1] from seal_prepare('sec', 1)");
    theirs = tt_scalar(other, "select ids[1] from seal_prepare('sec', 1)");
    assert_string_equal(tt_fails(f->pg, msg, sizeof msg,
                                 "select send_sealed('sec', array[%lld], "
                                 "array[%s])",
                                 theirs, env),
                        "22023");
    assert_non_null(strstr(msg, "not reserved by this session"));
    assert_string_equal(tt_fails(f->pg, NULL, 0,
                                 "select send_sealed('sec', array[%lld], "
                                 "array[%s])",
                                 mine + 1000, env),
                        "22023");
    /* Not an envelope. */
    assert_string_equal(tt_fails(f->pg, msg, sizeof msg,
                                 "select send_sealed('sec', array[%lld], "
                                 "array['plain text body, long enough to "
                                 "pass the length check'::bytea])",
                                 mine),
                        "22023");
    assert_non_null(strstr(msg, "not a sealed envelope"));
    assert_int_equal(tt_scalar(f->pg,
                               "select send_sealed('sec', array[%lld], "
                               "array[%s])",
                               mine, env),
                     mine);
    /* Used up. */
    assert_string_equal(tt_fails(f->pg, NULL, 0,
                                 "select send_sealed('sec', array[%lld], "
                                 "array[%s])",
                                 mine, env),
                        "22023");
    /* A plain queue reserves nothing and takes nothing sealed. */
    assert_int_equal(tt_scalar(f->pg, "select count(*) from seal_prepare("
                                      "'jobs', 2) where ids is null and not "
                                      "encrypt"),
                     1);
    assert_string_equal(tt_fails(f->pg, NULL, 0,
                                 "select send_sealed('jobs', array[%lld], "
                                 "array[%s])",
                                 theirs, env),
                        "TQ005");
    /* maintain() drops the reservations of sessions that ended. */
    tt_kill_backend(f->pg, tt_pid(other));
    PQfinish(other);
    tt_exec(f->pg, "select seal_prepare('sec', 3)");
    assert_int_equal(tt_scalar(f->pg, "select count(*) from id_reservations"),
                     4);
    tt_exec(f->pg, "select maintain()");
    assert_int_equal(tt_scalar(f->pg, "select count(*) from id_reservations"),
                     3);
    assert_int_equal(tt_depth(f), 1);
}

/* The consume loop never hands an unopenable body to its handler: it
 * fails the message for good, naming TXQ_EDECRYPT. */
static int handled;

static txq_handler_result
count_handler(PGconn *pg, const txq_msg *m, void *arg, char *err, size_t sz)
{
    (void)pg;
    (void)arg;
    (void)err;
    (void)sz;
    assert_non_null(txq_msg_body(m, NULL));
    handled++;
    return TXQ_HANDLER_OK;
}

static void
test_consumer_dead_letters(void **state)
{
    tt_fixture *f = *state;
    txq_keyring *kr = ring("k1 " K1 "\n");
    txq_consumer_opts o = {
        .size = sizeof(txq_consumer_opts), .exit_when_empty = 1, .prefetch = 4};
    PGconn *pg = tt_connect(f->schema);
    txq_client *c = txq_client_new(TXQ_OPTIONS(.schema = f->schema));
    txq_consumer *k;
    int64_t ids[3] = {0};
    const void *bodies[] = {"ok1", "bad", "ok2"};
    size_t lens[] = {3, 3, 3};

    queues(f, kr);
    assert_txq_ok(
        f->c, txq_send_batch(f->c, f->pg, "sec", bodies, lens, 3, NULL, ids));
    tt_exec(f->pg,
            "update messages set body = set_byte(body, 45, "
            "get_byte(body, 45) # 128) where id = %lld",
            (long long)ids[1]);
    assert_txq_ok(c, txq_client_set_keyring(c, kr));
    k = txq_consumer_new(c, "sec", &o, count_handler, NULL);
    handled = 0;
    assert_int_equal(txq_consumer_run(k, pg), TXQ_OK);
    assert_int_equal(handled, 2);
    assert_int_equal(tt_scalar(f->pg,
                               "select count(*) from dead_letters where id = "
                               "%lld and reason = 'permanent' and "
                               "last_error like 'TXQ_EDECRYPT: message %lld "
                               "of queue \"sec\": authentication failed%%'",
                               (long long)ids[1], (long long)ids[1]),
                     1);
    assert_int_equal(tt_depth(f), 0);
    txq_consumer_free(k);
    txq_client_free(c);
    PQfinish(pg);
    txq_client_set_keyring(f->c, NULL);
    txq_keyring_free(kr);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_round_trip, tt_setup, tt_teardown),
        cmocka_unit_test_setup_teardown(test_async, tt_setup, tt_teardown),
        cmocka_unit_test_setup_teardown(test_rotation, tt_setup, tt_teardown),
        cmocka_unit_test(test_key_file),
        cmocka_unit_test_setup_teardown(test_moved_body, tt_setup, tt_teardown),
        cmocka_unit_test_setup_teardown(test_tampered, tt_setup, tt_teardown),
        cmocka_unit_test_setup_teardown(test_plaintext_refused, tt_setup,
                                        tt_teardown),
        cmocka_unit_test_setup_teardown(test_reserved_ids, tt_setup,
                                        tt_teardown),
        cmocka_unit_test_setup_teardown(test_consumer_dead_letters, tt_setup,
                                        tt_teardown),
    };

    tt_dsn();
    return cmocka_run_group_tests_name("seal", tests, NULL, NULL);
}
