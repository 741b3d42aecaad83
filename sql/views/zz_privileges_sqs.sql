-- Privileges of the calls txq-sqs makes besides the core API's (tags, the
-- receive wait, AddPermission), re-applied after zz_privileges.sql (which
-- revokes every function from public first). Each call checks the grants
-- itself: these let the four roles call them at all. Roles with grants of
-- their own get them from grant() (_grant_access), as every call.
grant execute on function @extschema@.queue_tags(text)
    to txq_producer, txq_consumer, txq_operator, txq_admin;
grant execute on function
    @extschema@.tag_queue(text, jsonb),
    @extschema@.untag_queue(text, text[]),
    @extschema@.set_receive_wait(text, interval),
    @extschema@.set_dead_letter_sources(text, text[])
    to txq_operator, txq_admin;
grant execute on function
    @extschema@.sqs_add_permission(text, text, name[], text[]),
    @extschema@.sqs_remove_permission(text, text)
    to txq_admin;
