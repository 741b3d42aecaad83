create or replace function @extschema@._clock(i_now timestamptz)
returns timestamptz
language plpgsql stable
set search_path = pg_catalog, pg_temp
as $$
-- ----------------------------------------------------------------------
-- Function: _clock(i_now)
--
--      The time a call of the API works with (internal): now(), or i_now
--      when the caller may move the clock. The clock belongs to the
--      server: a caller-supplied time decides which messages are ready,
--      which claims have lapsed and how far a delay reaches, so only the
--      schema's owner (the role that ran txq migrate, and superusers) may
--      pass one, for tests and replays. Anyone else gets 42501 and the
--      call changes nothing.
--
--      Called from the security-definer functions, where current_user is
--      their owner; the caller is _caller(). Granted to no one.
--
--      The granted functions call it only when i_now is given, so a plain
--      call costs nothing more.
-- ----------------------------------------------------------------------
declare
    v_caller name;
begin
    if i_now is null then
        return now();
    end if;
    v_caller := @extschema@._caller();
    if not pg_has_role(v_caller, current_user, 'usage') then
        raise exception 'permission denied: role "%" may not pass a time '
                        '(i_now); the queue''s clock is the server''s',
                        v_caller
            using errcode = '42501',
                  hint = 'Leave i_now out. Only the owner of the txq '
                         'schema may move the clock, for tests and '
                         'replays.';
    end if;
    return i_now;
end
$$;
