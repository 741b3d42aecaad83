-- Trigger: dead_letter_messages_audit
--
--      Records operators' edits of dead letters in audit_log (see
--      _audit_dead_letter_edit).
create or replace trigger dead_letter_messages_audit
    after update of body, headers, priority
    on @extschema@.dead_letter_messages
    for each row execute function @extschema@._audit_dead_letter_edit();
