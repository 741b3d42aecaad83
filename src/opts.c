/*
 * opts.c - reading a caller's options struct whatever version of the
 * headers it was compiled with: the struct's leading size says how many
 * bytes the caller has, and the library works on a zeroed copy of its own
 * layout (docs/api.md, "Options structs").
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "txq_int.h"

/* No options struct comes near this: a larger size is not a size. */
#define MAX_OPTS_SIZE 4096

/* "txq_send_opts" -> "TXQ_SEND_OPTS_INIT", for the messages. */
static void
init_macro(char *buf, size_t bufsize, const char *type)
{
    size_t i = 0;

    for (; type[i] != '\0' && i + sizeof "_INIT" < bufsize; i++)
        buf[i] = (char)toupper((unsigned char)type[i]);
    snprintf(buf + i, bufsize - i, "_INIT");
}

int
txq__opts_copy(void *out,
               size_t outsize,
               size_t minsize,
               const void *in,
               const char *type,
               char *err,
               size_t errsize)
{
    const unsigned char *bytes = in;
    char macro[64];
    size_t size;

    memset(out, 0, outsize);
    memcpy(out, &outsize, sizeof outsize);
    if (in == NULL)
        return 0;
    memcpy(&size, in, sizeof size);
    init_macro(macro, sizeof macro, type);
    if (size == 0) {
        snprintf(err, errsize,
                 "%s.size is 0: initialise it with %s (or pass NULL for "
                 "the defaults)",
                 type, macro);
        return -1;
    }
    if (size < minsize || size > MAX_OPTS_SIZE) {
        snprintf(err, errsize,
                 "%s.size is %zu, not the size of a %s (%zu bytes in "
                 "libtxq %s): initialise it with %s",
                 type, size, type, outsize, txq_version(), macro);
        return -1;
    }
    if (size > outsize) {
        /* Built against newer headers: fine as long as it leaves the
         * fields this library does not know zero. */
        for (size_t i = outsize; i < size; i++) {
            if (bytes[i] != 0) {
                snprintf(err, errsize,
                         "%s sets fields that libtxq %s does not know "
                         "(the program was built against newer headers, "
                         "%zu bytes against %zu): use a newer libtxq",
                         type, txq_version(), size, outsize);
                return -1;
            }
        }
        size = outsize;
    }
    memcpy(out, in, size);
    memcpy(out, &outsize, sizeof outsize);
    return 0;
}

txq_err
txq__opts_load(txq_client *c,
               void *out,
               size_t outsize,
               size_t minsize,
               const void *in,
               const char *type)
{
    char msg[TXQ__ERRMSG_SIZE];

    if (txq__opts_copy(out, outsize, minsize, in, type, msg, sizeof msg) != 0)
        return txq__set_error(c, TXQ_EINVAL, "%s", msg);
    return TXQ_OK;
}

txq_err
txq__opts_check_set(txq_client *c,
                    const char *type,
                    uint64_t set,
                    uint64_t known)
{
    if ((set & ~known) != 0)
        return txq__set_error(
            c, TXQ_EINVAL,
            "%s.set has bits that libtxq %s does not know "
            "(0x%llx): the program was built against newer "
            "headers, or set is not made of %s_SET_* bits",
            type, txq_version(), (unsigned long long)(set & ~known),
            strcmp(type, "txq_queue_opts") == 0  ? "TXQ_QUEUE"
            : strcmp(type, "txq_send_opts") == 0 ? "TXQ_SEND"
                                                 : "TXQ_FAIL");
    return TXQ_OK;
}
