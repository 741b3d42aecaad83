#!/usr/bin/env bash
# demo_exec.sh - an exec: handler for txq-worker, used by tools/demo.sh
# (queue demo_emails):
#
#   txq-worker --handle emails=exec:examples/demo_exec.sh
#
# The worker runs it once per message, without a shell, and
#   - writes the message body to its stdin;
#   - sets TXQ_MESSAGE_ID, TXQ_ATTEMPT, TXQ_QUEUE and TXQ_HEADERS (JSON),
#     plus TXQ_CORRELATION_ID and TXQ_REPLY_TO when the message has them;
#   - reads its exit status: 0 done (acked), 75 failed, retry after the
#     queue's backoff, 65 failed for good (the queue's on_exhausted policy
#     at once); any other status, a signal or the --timeout budget: retry;
#   - keeps the last 4 KiB of its stderr as the error text in the message's
#     error history; for a request (TXQ_REPLY_TO set), stdout is the reply.
#
# The body here is an e-mail: a "To: ADDRESS" line, then the rest. It
# "sends" it by printing nothing at all (a real one would call sendmail).
set -euo pipefail

body=$(cat)
to=$(sed -n 's/^To: *//p' <<<"$body" | head -n 1)

if [[ $to != ?*@?*.?* ]]; then
    echo "message $TXQ_MESSAGE_ID: bad address '$to'" >&2
    exit 65 # EX_DATAERR: permanent
fi
if [[ $to == *@down.example ]]; then
    echo "message $TXQ_MESSAGE_ID: $to: connection refused" >&2
    exit 75 # every attempt: retried until max_attempts, then exhausted
fi
if [[ $to == *@greylist.example && $TXQ_ATTEMPT -eq 1 ]]; then
    echo "message $TXQ_MESSAGE_ID: $to: 451 greylisted, try later" >&2
    exit 75 # EX_TEMPFAIL: retry
fi
exit 0
