create or replace function @extschema@._encrypted(i_queue text)
returns boolean
language sql stable security definer
set search_path = pg_catalog, pg_temp
as $$
-- ----------------------------------------------------------------------
-- Function: _encrypted(i_queue)
--
--      Whether a queue takes only sealed bodies (queues.encrypt), for the
--      statements of libtxq that return messages (sql_text.h): it tells
--      the client that the bodies are to be opened (internal). A security
--      definer granted to public: it says that much about a queue and
--      nothing else.
--
-- Returns:
--      true or false; null for an unknown queue.
-- ----------------------------------------------------------------------
select q.encrypt from @extschema@.queues q where q.name = i_queue
$$;
