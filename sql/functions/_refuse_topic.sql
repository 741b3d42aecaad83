create or replace function @extschema@._refuse_topic(i_topic text,
                                                     i_queue text)
returns void
language plpgsql immutable
as $$
-- ----------------------------------------------------------------------
-- Function: _refuse_topic(i_topic, i_queue)
--
--      Refuses a publish that reaches an encrypted queue (internal): TQ005
--      naming the topic and the queue. A seal binds one queue and one
--      message id, so the server cannot make copies of a sealed body, and
--      it never holds the plaintext to seal them.
-- ----------------------------------------------------------------------
begin
    raise exception 'topic "%" reaches encrypted queue "%": publish cannot '
        'seal a copy per queue; send to that queue with a key ring',
        left(i_topic, 100), left(i_queue, 100)
        using errcode = 'TQ005';
end
$$;
