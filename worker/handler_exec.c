/*
 * handler_exec.c - exec:program args handlers. No shell: the command line
 * is split once (util.c) and run with fork + execvp, in a process group of
 * its own that dies with its consumer (PR_SET_PDEATHSIG on Linux). The body
 * goes to stdin; the message's attributes to TXQ_* environment variables,
 * in an environment of their own (childenv.h: no credentials of the
 * worker's).
 * Exit 0 is success, 65 a permanent failure, 75 and anything else a
 * failure to retry; past the timeout the whole group gets SIGKILL. The
 * last 4 KiB of stderr become the error text. For a request (reply_to and
 * correlation id), stdout (up to 1 MiB; more is a permanent failure) is
 * the reply, sent with txq_reply in the consume transaction after a
 * successful exit: it commits with the ack or not at all, and a reply
 * queue that no longer exists drops it (audited) without failing the
 * message. Empty stdout sends no reply.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

#include "childenv.h"
#include "handler.h"
#include "policy.h"
#include "util.h"

#define STDERR_KEEP (4 * 1024)
#define STDOUT_MAX  (1024 * 1024)

struct exec_handler {
    char **argv;
    txq_client *c;
    double timeout;
    char *pass_env;
};

extern char **environ;

void *
handler_exec_open(const char *cmd,
                  const handler_env *env,
                  char *err,
                  size_t errsize)
{
    struct exec_handler *h = calloc(1, sizeof *h);

    if (h == NULL) {
        snprintf(err, errsize, "out of memory");
        return NULL;
    }
    h->argv = split_args(cmd, err, errsize);
    if (h->argv == NULL) {
        free(h);
        return NULL;
    }
    h->c = env->c;
    h->timeout = env->timeout;
    if ((h->pass_env = strdup(env->pass_env != NULL ? env->pass_env : "")) ==
        NULL) {
        snprintf(err, errsize, "out of memory");
        free_args(h->argv);
        free(h);
        return NULL;
    }
    return h;
}

/* Whether the program can be run: a path that names an executable file,
 * or a name found on PATH, as execvp would look. */
int
handler_exec_found(void *arg, char *err, size_t errsize)
{
    struct exec_handler *h = arg;
    const char *prog = h->argv[0], *path = getenv("PATH"), *p;
    char buf[4096];

    if (strchr(prog, '/') != NULL) {
        if (access(prog, X_OK) == 0)
            return 0;
        snprintf(err, errsize, "exec handler: %s: %s", prog, strerror(errno));
        return -1;
    }
    for (p = path != NULL ? path : "/usr/bin:/bin"; *p != '\0';) {
        size_t n = strcspn(p, ":");

        snprintf(buf, sizeof buf, "%.*s/%s", (int)(n > 0 ? n : 1),
                 n > 0 ? p : ".", prog);
        if (access(buf, X_OK) == 0)
            return 0;
        p += n;
        if (*p == ':')
            p++;
    }
    snprintf(err, errsize, "exec handler: %s: not found on PATH", prog);
    return -1;
}

void
handler_exec_close(void *arg)
{
    struct exec_handler *h = arg;

    if (h == NULL)
        return;
    free_args(h->argv);
    free(h->pass_env);
    free(h);
}

/* "NAME=value" in a new string, or NULL when value is NULL (or no
 * memory: the variable is then missing, as when unset). */
static char *
var(const char *name, const char *value)
{
    size_t n;
    char *s;

    if (value == NULL)
        return NULL;
    n = strlen(name) + strlen(value) + 2;
    if ((s = malloc(n)) != NULL)
        snprintf(s, n, "%s=%s", name, value);
    return s;
}

/* The program's environment: the worker's allowed variables and the
 * message's (childenv_new), or NULL when out of memory. */
static char **
message_env(const struct exec_handler *h, const txq_msg *m)
{
    char id[32], attempt[16];
    char *extra[6];
    char **env;
    size_t i;

    snprintf(id, sizeof id, "%lld", (long long)txq_msg_id(m));
    snprintf(attempt, sizeof attempt, "%d", txq_msg_attempt(m));
    extra[0] = var("TXQ_MESSAGE_ID", id);
    extra[1] = var("TXQ_ATTEMPT", attempt);
    extra[2] = var("TXQ_QUEUE", txq_msg_queue(m));
    extra[3] = var("TXQ_CORRELATION_ID", txq_msg_correlation_id(m));
    extra[4] = var("TXQ_REPLY_TO", txq_msg_reply_to(m));
    extra[5] = var("TXQ_HEADERS", txq_msg_headers(m));
    env = extra[0] != NULL && extra[1] != NULL && extra[2] != NULL
              ? childenv_new(h->pass_env, (const char *const *)extra, 6)
              : NULL;
    for (i = 0; i < 6; i++)
        free(extra[i]);
    return env;
}

/* In the child, after fork: never returns. */
static void
child_exec(struct exec_handler *h,
           char **env,
           int in,
           int out,
           int errfd,
           pid_t parent)
{
    sigset_t none;
    int s;

    setpgid(0, 0);
#ifdef __linux__
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent)
        _exit(127);
#else
    (void)parent;
#endif
    /* Dispositions the worker set must not leak into the program. */
    for (s = 1; s < 32; s++)
        if (s != SIGKILL && s != SIGSTOP)
            signal(s, SIG_DFL);
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    if (dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(errfd, 2) < 0)
        _exit(127);
    environ = env; /* execvp searches its PATH: the worker's, passed on */
    execvp(h->argv[0], h->argv);
    dprintf(2, "cannot run %s: %s", h->argv[0], strerror(errno));
    _exit(127);
}

struct capture {
    char *buf;
    size_t len, cap;
    int keep_tail; /* stderr: keep the last cap bytes; stdout: the first */
    int overflow;  /* stdout: more than cap bytes came */
};

static void
capture_add(struct capture *c, const char *data, size_t n)
{
    if (c->buf == NULL)
        return;
    if (c->keep_tail && n >= c->cap) {
        memcpy(c->buf, data + n - c->cap, c->cap);
        c->len = c->cap;
        return;
    }
    if (c->len + n > c->cap) {
        if (!c->keep_tail) {
            n = c->cap - c->len;
            c->overflow = 1;
        } else {
            size_t drop = c->len + n - c->cap;

            memmove(c->buf, c->buf + drop, c->len - drop);
            c->len -= drop;
        }
    }
    memcpy(c->buf + c->len, data, n);
    c->len += n;
}

/* Read what is there; returns -1 at EOF. */
static int
capture_read(int fd, struct capture *c)
{
    char buf[8192];

    for (;;) {
        ssize_t r = read(fd, buf, sizeof buf);

        if (r > 0) {
            capture_add(c, buf, (size_t)r);
            continue;
        }
        if (r == 0)
            return -1;
        if (errno == EINTR)
            continue;
        return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
    }
}

static void
close_fd(int *fd)
{
    if (*fd >= 0)
        close(*fd);
    *fd = -1;
}

txq_handler_result
handler_exec_run(
    PGconn *pg, const txq_msg *m, void *arg, char *err, size_t errsize)
{
    struct exec_handler *h = arg;
    int inp[2] = {-1, -1}, outp[2] = {-1, -1}, errp[2] = {-1, -1};
    int devnull = -1, status = 0, timed_out = 0, exited = 0;
    struct capture cerr = {0}, cout = {0};
    size_t blen = 0, sent = 0;
    const char *body = txq_msg_body(m, &blen);
    int want_reply =
        txq_msg_reply_to(m) != NULL && txq_msg_correlation_id(m) != NULL;
    double deadline = now_mono() + h->timeout;
    txq_handler_result res = TXQ_HANDLER_RETRY;
    char **env = NULL;
    pid_t pid;

    cerr.cap = STDERR_KEEP;
    cerr.keep_tail = 1;
    cerr.buf = malloc(cerr.cap);
    cout.cap = STDOUT_MAX;
    if (want_reply)
        cout.buf = malloc(cout.cap);
    env = message_env(h, m);
    if (cerr.buf == NULL || (want_reply && cout.buf == NULL) || env == NULL) {
        snprintf(err, errsize, "out of memory");
        goto out;
    }
    if (pipe(inp) != 0 || pipe(errp) != 0 ||
        (want_reply ? pipe(outp) : (devnull = open("/dev/null", O_WRONLY))) <
            0) {
        snprintf(err, errsize, "pipe: %s", strerror(errno));
        goto out;
    }
    /* Only the dup2 copies may reach the program. */
    fd_cloexec(inp[0]);
    fd_cloexec(inp[1]);
    fd_cloexec(errp[0]);
    fd_cloexec(errp[1]);
    if (want_reply) {
        fd_cloexec(outp[0]);
        fd_cloexec(outp[1]);
    } else {
        fd_cloexec(devnull);
    }
    pid = fork();
    if (pid < 0) {
        snprintf(err, errsize, "fork: %s", strerror(errno));
        goto out;
    }
    if (pid == 0)
        child_exec(h, env, inp[0], want_reply ? outp[1] : devnull, errp[1],
                   getppid());
    setpgid(pid, pid); /* also here: no race with killpg below */
    close_fd(&inp[0]);
    close_fd(&outp[1]);
    close_fd(&errp[1]);
    close_fd(&devnull);
    fd_nonblock(inp[1]);
    fd_nonblock(errp[0]);
    if (outp[0] >= 0)
        fd_nonblock(outp[0]);
    if (blen == 0)
        close_fd(&inp[1]);

    while (!exited || errp[0] >= 0 || outp[0] >= 0) {
        struct pollfd pfd[3];
        nfds_t n = 0;
        double left = deadline - now_mono();
        int ms;

        if (!exited) {
            pid_t w = waitpid(pid, &status, WNOHANG);

            if (w == pid) {
                exited = 1;
                /* Leftovers (background children) may keep the pipes
                 * open: take what is there and stop reading. */
                if (errp[0] >= 0)
                    capture_read(errp[0], &cerr);
                if (outp[0] >= 0)
                    capture_read(outp[0], &cout);
                close_fd(&errp[0]);
                close_fd(&outp[0]);
                break;
            }
        }
        if (left <= 0) {
            kill(-pid, SIGKILL);
            kill(pid, SIGKILL);
            while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
                ;
            timed_out = 1;
            break;
        }
        if (inp[1] >= 0) {
            pfd[n].fd = inp[1];
            pfd[n++].events = POLLOUT;
        }
        if (errp[0] >= 0) {
            pfd[n].fd = errp[0];
            pfd[n++].events = POLLIN;
        }
        if (outp[0] >= 0) {
            pfd[n].fd = outp[0];
            pfd[n++].events = POLLIN;
        }
        /* Wake up now and then to reap a child whose pipes stay open. */
        ms = left > 0.05 ? 50 : (int)(left * 1000) + 1;
        if (poll(pfd, n, ms) < 0 && errno != EINTR)
            break;
        if (inp[1] >= 0) {
            ssize_t w = write(inp[1], body + sent,
                              blen - sent > 65536 ? 65536 : blen - sent);

            if (w > 0)
                sent += (size_t)w;
            else if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK &&
                     errno != EINTR)
                close_fd(&inp[1]); /* EPIPE: it does not read stdin */
            if (sent == blen)
                close_fd(&inp[1]);
        }
        if (errp[0] >= 0 && capture_read(errp[0], &cerr) < 0)
            close_fd(&errp[0]);
        if (outp[0] >= 0 && capture_read(outp[0], &cout) < 0)
            close_fd(&outp[0]);
    }

    res = policy_exec_result(status, timed_out);
    {
        char what[64];
        size_t el = cerr.len;

        while (el > 0 && (cerr.buf[el - 1] == '\n' || cerr.buf[el - 1] == ' '))
            el--;
        if (timed_out)
            snprintf(what, sizeof what, "timed out after %gs", h->timeout);
        else if (WIFSIGNALED(status))
            snprintf(what, sizeof what, "killed by signal %d",
                     WTERMSIG(status));
        else
            snprintf(what, sizeof what, "exit status %d", WEXITSTATUS(status));
        if (res != TXQ_HANDLER_OK)
            snprintf(err, errsize, "%s%s%.*s", what, el ? ": " : "", (int)el,
                     cerr.buf);
    }
    if (res == TXQ_HANDLER_OK && want_reply && cout.overflow) {
        /* A cut reply would be a wrong one; the same output comes again. */
        snprintf(err, errsize, "the reply on stdout is larger than %d bytes",
                 STDOUT_MAX);
        res = TXQ_HANDLER_PERMANENT;
    } else if (res == TXQ_HANDLER_OK && want_reply && cout.len > 0) {
        /* In the consume transaction: it commits with the ack. A reply
         * queue that is gone is not an error (txq_reply drops it). */
        txq_err rc = txq_reply(h->c, pg, m, cout.buf, cout.len, NULL, NULL);

        if (rc != TXQ_OK) {
            snprintf(err, errsize, "sending the reply: %s", txq_errmsg(h->c));
            res = rc == TXQ_ETOOBIG ? TXQ_HANDLER_PERMANENT : TXQ_HANDLER_RETRY;
        }
    }
out:
    close_fd(&inp[0]);
    close_fd(&inp[1]);
    close_fd(&outp[0]);
    close_fd(&outp[1]);
    close_fd(&errp[0]);
    close_fd(&errp[1]);
    close_fd(&devnull);
    free(cerr.buf);
    free(cout.buf);
    childenv_free(env);
    return res;
}
