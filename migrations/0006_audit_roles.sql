-- 0006_audit_roles: the audit log names who acted, not only the login.
--
-- actor stays what it was, the session's user (the login). An operator
-- working through SET ROLE, or several people behind one shared login,
-- were all logged as that login: acting_role records the role the session
-- acted as (the one taken by SET ROLE, else the login), and
-- application_name what the client called itself. Rows written before
-- this migration keep null in both: nobody knows them now.
--
-- Applied once, in its own transaction, under an advisory lock, by
-- txq_migrate() / `txq migrate`. @extschema@ is replaced by the quoted schema
-- name. Forward-only: never edit a released migration, add a new one.

alter table @extschema@.audit_log
    add column acting_role text,
    add column application_name text;
-- The defaults are evaluated by the security-definer functions that write
-- the log, as their owner; the setting "role" is still the caller's.
alter table @extschema@.audit_log
    alter column acting_role set default
        coalesce(nullif(pg_catalog.current_setting('role'), 'none'),
                 session_user::text),
    alter column application_name set default
        pg_catalog.current_setting('application_name');
