#!/usr/bin/env bash
# notify.sh - a --notify-command for txq-worker, used by tools/demo.sh:
#
#   txq-worker --notify-command examples/notify.sh ...
#
# The worker runs it (without a shell, stdin from /dev/null) when messages
# of a queue with on_exhausted = notify are dead-lettered, at most once per
# queue per --notify-interval: alerts raised meanwhile go out together in
# the next run, TXQ_ALERT_COUNT saying how many. Environment:
#   TXQ_ALERT_QUEUE       the queue
#   TXQ_ALERT_COUNT       how many alerts this run covers
#   TXQ_ALERT_MESSAGE_ID  the latest one's message (its dead letter id)
#   TXQ_ALERT_REASON      permanent or exhausted
#   TXQ_ALERT_ERROR       the latest one's last error
#   TXQ_ALERT_SCHEMA      txq's schema
# A real one would send an e-mail, an SMS or a chat message. This one
# appends a line to $DEMO_ALERT_LOG (default: stderr, the worker's log).
set -euo pipefail

line=$(printf '%s queue=%s count=%s message_id=%s reason=%s error="%s"' \
    "$(date -u +%H:%M:%S)" "$TXQ_ALERT_QUEUE" "$TXQ_ALERT_COUNT" \
    "$TXQ_ALERT_MESSAGE_ID" "$TXQ_ALERT_REASON" "$TXQ_ALERT_ERROR")
if [[ -n ${DEMO_ALERT_LOG:-} ]]; then
    printf '%s\n' "$line" >>"$DEMO_ALERT_LOG"
else
    printf 'ALERT %s\n' "$line" >&2
fi
