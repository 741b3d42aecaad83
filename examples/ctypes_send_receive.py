#!/usr/bin/env python3
"""Send and receive one message through libtxq from Python, with ctypes only.

TXQ_LIB: libtxq.so.1's path (default: found by the loader); TXQ_TEST_DSN: a
libpq conninfo. See docs/api.md. Exits non-zero on any failure.
"""
import ctypes, os, sys
from ctypes import (POINTER, Structure, byref, c_char_p, c_double, c_int, c_int64,
                    c_size_t, c_uint64, c_void_p)

pq = ctypes.CDLL("libpq.so.5")  # libpq makes the PGconn txq borrows
txq = ctypes.CDLL(os.environ.get("TXQ_LIB", "libtxq.so.1"))
P, S = c_void_p, c_char_p
def fn(lib, name, restype, *argtypes):  # declare every function used: no guessing
    f = getattr(lib, name); f.restype, f.argtypes = restype, argtypes; return f
for name, res, args in [("PQconnectdb", P, [S]), ("PQstatus", c_int, [P]), ("PQexec", P, [P, S]),
                        ("PQclear", None, [P]), ("PQfinish", None, [P])]:
    fn(pq, name, res, *args)
for name, res, args in [("txq_version_number", c_int, []), ("txq_client_new", P, [P]),
                        ("txq_client_free", None, [P]), ("txq_errmsg", S, [P]),
                        ("txq_migrate", c_int, [P, P, P]), ("txq_queue_create", c_int, [P, P, S, P]),
                        ("txq_send", c_int, [P, P, S, S, c_size_t, P, P]),
                        ("txq_receive", c_int, [P, P, S, c_size_t, P, P, P]),
                        ("txq_msg_body", P, [P, P]), ("txq_ack", c_int, [P, P, P]),
                        ("txq_msgs_free", None, [P, c_size_t])]:
    fn(txq, name, res, *args)

class Options(Structure):  # txq_options: size first, fields only appended
    _fields_ = [("size", c_size_t), ("schema", c_char_p)]

class SendOpts(Structure):  # txq_send_opts
    _fields_ = [("size", c_size_t), ("set", c_uint64), ("headers_json", c_char_p), ("delay", c_double),
                ("priority", c_int), ("group", c_char_p), ("dedup_id", c_char_p),
                ("correlation_id", c_char_p), ("reply_to", c_char_p)]

def check(rc, ok=(0,)):
    if rc not in ok:
        sys.exit(f"txq error {rc}: {txq.txq_errmsg(c).decode()}")

assert txq.txq_version_number() >= 10000, "needs libtxq 1.0 or later"
pg = pq.PQconnectdb(os.environ["TXQ_TEST_DSN"].encode())
assert pq.PQstatus(pg) == 0, "cannot connect"
c = txq.txq_client_new(byref(Options(ctypes.sizeof(Options), b"txq_ctypes")))
check(txq.txq_migrate(c, pg, None))
check(txq.txq_queue_create(c, pg, b"greetings", None), ok=(0, 10))  # TXQ_EEXIST: fine
so = SendOpts(size=ctypes.sizeof(SendOpts), headers_json=b'{"lang": "en"}', priority=5)
msg_id, body = c_int64(), b"hello from ctypes"
check(txq.txq_send(c, pg, b"greetings", body, len(body), byref(so), byref(msg_id)))

pq.PQclear(pq.PQexec(pg, b"BEGIN"))  # the receive and the ack commit together
msgs, n, size = POINTER(c_void_p)(), c_size_t(), c_size_t()
check(txq.txq_receive(c, pg, b"greetings", 1, None, byref(msgs), byref(n)))
got = ctypes.string_at(txq.txq_msg_body(msgs[0], byref(size)), size.value)
check(txq.txq_ack(c, pg, msgs[0]))
pq.PQclear(pq.PQexec(pg, b"COMMIT"))
txq.txq_msgs_free(msgs, n.value)
assert got == body, got
print(f"libtxq {txq.txq_version_number()}: sent and received message {msg_id.value}: {got.decode()}")
pq.PQclear(pq.PQexec(pg, b"DROP SCHEMA txq_ctypes CASCADE"))
txq.txq_client_free(c)
pq.PQfinish(pg)
