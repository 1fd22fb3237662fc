"""The pipe protocol between kb and its REPL child, and the parent's distrust of it.

Each message is a frame: a 4-byte big-endian length, then that many bytes of JSON (one object).
The child runs model-written code, which can write to the pipe as well as the trusted REPL loop
can, so every frame from the child is checked against a strict schema for its type, carries the
id of the request it answers, and has a size cap; anything else is a `ProtocolViolation`, which
ends the child. Only the standard library is used: the child imports this file too.
"""

import json
import struct

HEADER = struct.Struct(">I")
MAX_FROM_CHILD = 8 << 20  # bytes; a cell's output and a rendered variable are capped well below


class ProtocolViolation(Exception):
    """The child sent something the protocol does not allow; the message says what."""


def encode(msg: dict) -> bytes:
    data = json.dumps(msg, ensure_ascii=False, default=repr).encode("utf-8", "surrogatepass")
    return HEADER.pack(len(data)) + data


class FrameReader:
    """Splits a byte stream into frames without copying what it has not consumed (no quadratic
    growth when a frame arrives in many small pieces)."""

    def __init__(self, cap: int = MAX_FROM_CHILD):
        self.cap, self.buf = cap, bytearray()

    def feed(self, data: bytes) -> None:
        self.buf += data

    def next(self) -> bytes | None:
        if len(self.buf) < HEADER.size:
            return None
        (n,) = HEADER.unpack_from(self.buf)
        if n > self.cap:
            raise ProtocolViolation(f"a {n:,}-byte frame (the cap is {self.cap:,})")
        if len(self.buf) < HEADER.size + n:
            return None
        frame = bytes(self.buf[HEADER.size:HEADER.size + n])
        del self.buf[:HEADER.size + n]
        return frame


ANY = object()
NULLABLE_STR = (str, type(None))
# op -> field -> accepted types (bool is excluded from int below). Every field is required and no
# other field is allowed.
SCHEMAS: dict[str, dict[str, object]] = {
    "ready": {"op": str, "pid": int, "uid": int, "walls": str, "missing": str},
    "unavailable": {"op": str, "missing": str},
    "call": {"op": str, "id": int, "fn": str, "args": list, "kwargs": dict},
    "done": {"op": str, "id": int, "output": str, "error": NULLABLE_STR, "final": (dict, type(None))},
    "value": {"op": str, "id": int, "found": bool, "value": ANY},
    "ok": {"op": str, "id": int},
}
FINAL_KINDS = {"text": {"kind", "value"}, "var": {"kind", "name", "value"}}


def _typed(value, types) -> bool:
    if types is ANY:
        return True
    if isinstance(value, bool) and types is int:
        return False
    return isinstance(value, types)


def parse(frame: bytes, expect: tuple[str, ...], request_id: int | None = None) -> dict:
    """The message in `frame`, checked; raises ProtocolViolation saying what was wrong."""
    try:
        msg = json.loads(frame.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as e:
        raise ProtocolViolation(f"a frame that is not JSON ({type(e).__name__})") from None
    if not isinstance(msg, dict):
        raise ProtocolViolation(f"a {type(msg).__name__} where a message object belongs")
    op = msg.get("op")
    if op not in expect:
        raise ProtocolViolation(f"message {str(op)[:40]!r} where {' or '.join(expect)} was due")
    schema = SCHEMAS[op]
    if set(msg) != set(schema):
        raise ProtocolViolation(f"{op} message with fields {sorted(msg)[:10]}, expected {sorted(schema)}")
    for key, types in schema.items():
        if not _typed(msg[key], types):
            raise ProtocolViolation(f"{op}.{key} is a {type(msg[key]).__name__}")
    if request_id is not None and "id" in schema and msg["id"] != request_id:
        raise ProtocolViolation(f"{op} for request {msg['id']} while request {request_id} was open")
    if op == "call" and not all(isinstance(k, str) for k in msg["kwargs"]):
        raise ProtocolViolation("call.kwargs has a key that is not a string")
    final = msg.get("final")
    if op == "done" and final is not None:
        kind = final.get("kind")
        if kind not in FINAL_KINDS or set(final) != FINAL_KINDS[kind] or \
                not all(isinstance(final[k], str) for k in FINAL_KINDS[kind]):
            raise ProtocolViolation("done.final is malformed")
    return msg
