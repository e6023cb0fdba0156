"""TensorBoard event files written without tensorboard (not a dependency here): scalars only.

An event file is a TFRecord stream: per record ``uint64 length``, ``masked crc32c(length)``, ``data``,
``masked crc32c(data)`` (little-endian). Each record's data is an ``Event`` protobuf, encoded by hand:

    Event   { double wall_time = 1; int64 step = 2; string file_version = 3; Summary summary = 5; }
    Summary { repeated Value value = 1; }
    Value   { string tag = 1; float simple_value = 2; }

The first record carries ``file_version: "brain.Event:2"``, which TensorBoard expects.
"""

from __future__ import annotations

import socket
import struct
import time
from pathlib import Path

from twintrack.errors import UserError

FILE_VERSION = "brain.Event:2"


def _crc32c_table() -> tuple[int, ...]:
    """Castagnoli polynomial, reflected (0x82F63B78): one entry per byte value."""
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
        table.append(crc)
    return tuple(table)


_CRC32C_TABLE = _crc32c_table()  # a tuple: constant, not state


def crc32c(data: bytes) -> int:
    crc = 0xFFFFFFFF
    for byte in data:
        crc = _CRC32C_TABLE[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def masked_crc32c(data: bytes) -> int:
    """TFRecord's mask: rotate right by 15 and add a constant (CRCs of data that holds CRCs stay strong)."""
    crc = crc32c(data)
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


# ------------------------------------------------------------------------------------------ protobuf encoding


def _varint(value: int) -> bytes:
    value &= 0xFFFFFFFFFFFFFFFF  # int64: negatives are ten-byte two's complement
    out = bytearray()
    while True:
        bits = value & 0x7F
        value >>= 7
        if value:
            out.append(bits | 0x80)
        else:
            out.append(bits)
            return bytes(out)


def _key(field: int, wire_type: int) -> bytes:
    return _varint(field << 3 | wire_type)


def _length_delimited(field: int, payload: bytes) -> bytes:
    return _key(field, 2) + _varint(len(payload)) + payload


def encode_event(wall_time: float, step: int, file_version: str | None = None,
                 scalars: list[tuple[str, float]] = ()) -> bytes:
    out = _key(1, 1) + struct.pack("<d", wall_time) + _key(2, 0) + _varint(step)
    if file_version is not None:
        out += _length_delimited(3, file_version.encode())
    if scalars:
        values = b"".join(
            _length_delimited(1, _length_delimited(1, tag.encode()) + _key(2, 5) + struct.pack("<f", value))
            for tag, value in scalars
        )
        out += _length_delimited(5, values)
    return out


def frame_record(data: bytes) -> bytes:
    length = struct.pack("<Q", len(data))
    return length + struct.pack("<I", masked_crc32c(length)) + data + struct.pack("<I", masked_crc32c(data))


class EventWriter:
    """``add_scalar(tag, value, step)`` into ``log_dir/events.out.tfevents.<time>.<host>``; the file is flushed on
    ``flush()`` and ``close()`` (and by the OS buffer in between)."""

    def __init__(self, log_dir: str | Path) -> None:
        self.log_dir = Path(log_dir)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        name = f"events.out.tfevents.{int(time.time())}.{socket.gethostname()}"
        path, n = self.log_dir / name, 0
        while path.exists():  # a second writer in the same second (a quick resume) gets its own file
            n += 1
            path = self.log_dir / f"{name}.{n}"
        self.path = path
        self._handle = open(path, "wb")
        self._handle.write(frame_record(encode_event(time.time(), 0, file_version=FILE_VERSION)))
        self._handle.flush()

    def add_scalar(self, tag: str, value: float, step: int) -> None:
        self._handle.write(frame_record(encode_event(time.time(), int(step), scalars=[(tag, float(value))])))

    def flush(self) -> None:
        self._handle.flush()

    def close(self) -> None:
        if not self._handle.closed:
            self._handle.close()

    def __enter__(self) -> "EventWriter":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


# -------------------------------------------------------------------------------------------------- reading


def _read_varint(data: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7


def _fields(data: bytes):
    """(field number, wire type, value) of a protobuf message; value is bytes for 64/32-bit and delimited."""
    pos = 0
    while pos < len(data):
        key, pos = _read_varint(data, pos)
        field, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _read_varint(data, pos)
        elif wire == 1:
            value, pos = data[pos:pos + 8], pos + 8
        elif wire == 2:
            length, pos = _read_varint(data, pos)
            value, pos = data[pos:pos + length], pos + length
        elif wire == 5:
            value, pos = data[pos:pos + 4], pos + 4
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")
        yield field, wire, value


def read_records(path: str | Path) -> list[bytes]:
    """The data of every TFRecord in a file, CRCs checked."""
    raw = Path(path).read_bytes()
    records, pos = [], 0
    while pos < len(raw):
        if pos + 12 > len(raw):
            raise UserError(f"{path}: truncated record header at byte {pos}")
        header = raw[pos:pos + 8]
        (length,), (length_crc,) = struct.unpack("<Q", header), struct.unpack("<I", raw[pos + 8:pos + 12])
        if masked_crc32c(header) != length_crc:
            raise UserError(f"{path}: bad length CRC at byte {pos}")
        data = raw[pos + 12:pos + 12 + length]
        if len(data) != length or pos + 16 + length > len(raw):
            raise UserError(f"{path}: truncated record at byte {pos}")
        (data_crc,) = struct.unpack("<I", raw[pos + 12 + length:pos + 16 + length])
        if masked_crc32c(data) != data_crc:
            raise UserError(f"{path}: bad data CRC at byte {pos}")
        records.append(data)
        pos += 16 + length
    return records


def read_scalars(path: str | Path) -> list[tuple[str, int, float]]:
    """(tag, step, value) of every scalar in an event file, or in all event files of a folder (name order)."""
    path = Path(path)
    files = sorted(path.glob("*tfevents*")) if path.is_dir() else [path]
    out = []
    for file in files:
        for record in read_records(file):
            step, summary = 0, None
            for field, _, value in _fields(record):
                if field == 2:
                    step = value - (1 << 64) if value >= 1 << 63 else value
                elif field == 5:
                    summary = value
            if summary is None:
                continue
            for field, _, value in _fields(summary):
                if field != 1:
                    continue
                tag, simple = None, None
                for f, _, v in _fields(value):
                    if f == 1:
                        tag = v.decode()
                    elif f == 2:
                        simple = struct.unpack("<f", v)[0]
                if tag is not None and simple is not None:
                    out.append((tag, step, simple))
    return out
