create or replace function @extschema@.run_sql_handler(
    i_fn   text,
    i_msg  @extschema@.message)
returns bigint
language plpgsql
as $$
-- ----------------------------------------------------------------------
-- Function: run_sql_handler(i_fn, i_msg)
--
--      Runs a SQL handler as txq-worker does: calls i_fn(i_msg), where
--      i_fn names a function [schema.]fn taking one txq.message, inside
--      the caller's (the consume) transaction. txq-worker itself prepares
--      the equivalent call once per connection (worker/handler_sql.c)
--      instead of resolving and planning it on every message. The name is resolved by
--      to_regprocedure and called through its regproc, so it is never
--      spliced into SQL as given; the message goes in as a parameter.
--      Security invoker, and no search_path of its own: the handler runs
--      with the worker's privileges and search_path.
--      A non-null result of a request (a message with reply_to and
--      correlation_id) is its reply, sent by reply() in this transaction
--      with the request's correlation id (bytea as is, anything else as
--      its text in UTF-8): when the reply queue no longer exists the reply
--      is dropped and audited, and the handler still succeeds.
--
-- Parameters:
--      i_fn  - the handler function's name, as configured
--      i_msg - the message
--
-- Returns:
--      the reply's message id, or null when no reply was sent (none, or
--      dropped).
--      Errors: 22023 bad name, 42883 no such function; whatever the
--      handler raises (TQ001: a permanent failure).
-- ----------------------------------------------------------------------
declare
    v_fn regprocedure;
    v_ret regtype;
    v_call text;
    v_text text;
    v_bytes bytea;
begin
    if i_fn is null or i_fn operator(pg_catalog.!~)
        '^[A-Za-z_][A-Za-z0-9_$]*([.][A-Za-z_][A-Za-z0-9_$]*)?$' then
        raise exception 'bad handler function name "%"',
            pg_catalog.left(i_fn, 100) using errcode = '22023';
    end if;
    v_fn := pg_catalog.to_regprocedure(pg_catalog.format('%s(%s)', i_fn,
        pg_catalog.pg_typeof(i_msg)));
    if v_fn is null then
        raise exception 'handler function %(%) does not exist', i_fn,
            pg_catalog.pg_typeof(i_msg) using errcode = '42883';
    end if;
    select p.prorettype into v_ret from pg_catalog.pg_proc p
     where p.oid operator(pg_catalog.=) v_fn;
    v_call := pg_catalog.format('select %s($1)', v_fn::oid::regproc);
    if v_ret operator(pg_catalog.=) 'pg_catalog.bytea'::regtype then
        execute v_call into v_bytes using i_msg;
    elsif v_ret operator(pg_catalog.=) 'pg_catalog.void'::regtype then
        execute v_call using i_msg;
    else
        execute pg_catalog.format('select (%s($1))::text',
                                  v_fn::oid::regproc)
            into v_text using i_msg;
        v_bytes := pg_catalog.convert_to(v_text, 'UTF8');
    end if;
    if v_bytes is null or (i_msg).reply_to is null
       or (i_msg).correlation_id is null then
        return null;
    end if;
    return @extschema@.reply((i_msg).reply_to, (i_msg).correlation_id,
                             v_bytes);
end
$$;
