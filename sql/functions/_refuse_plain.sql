create or replace function @extschema@._refuse_plain(i_queue text)
returns void
language plpgsql immutable
as $$
-- ----------------------------------------------------------------------
-- Function: _refuse_plain(i_queue)
--
--      Refuses a plaintext body for an encrypted queue (internal): TQ005
--      naming the queue. Raised before anything is written, or after,
--      which the error then undoes: nothing changes.
-- ----------------------------------------------------------------------
begin
    raise exception 'queue "%" requires encryption: its bodies must be '
        'sealed by the client', left(i_queue, 100)
        using errcode = 'TQ005',
              hint = 'Send with libtxq and a key ring (txq_client_set_keyring'
                     ', txq send --key-file), which calls seal_prepare() and '
                     'send_sealed().';
end
$$;
