"""train/events.py: TensorBoard event files without tensorboard: CRCs, framing, round trip."""

from __future__ import annotations

import struct

import pytest

from twintrack.errors import UserError
from twintrack.train.events import EventWriter, crc32c, masked_crc32c, read_records, read_scalars


def test_crc32c_standard_check_value():
    assert crc32c(b"123456789") == 0xE3069283
    assert crc32c(b"") == 0
    # RFC 3720 (iSCSI) test vector: 32 bytes of zeros.
    assert crc32c(bytes(32)) == 0x8A9136AA


def test_masked_crc_is_the_tfrecord_mask():
    crc = crc32c(b"abc")
    assert masked_crc32c(b"abc") == ((((crc >> 15) | (crc << 17)) & 0xFFFFFFFF) + 0xA282EAD8) & 0xFFFFFFFF


def test_scalars_round_trip(tmp_path):
    with EventWriter(tmp_path / "tb") as writer:
        writer.add_scalar("train/loss", 0.6931, 0)
        writer.add_scalar("train/loss", 0.25, 150)
        writer.add_scalar("val/auc", 0.4, 150)
        writer.add_scalar("train/lr", 1e-2, 2**40)
        writer.flush()
    assert writer.path.name.startswith("events.out.tfevents.")
    scalars = read_scalars(tmp_path / "tb")
    assert [(t, s) for t, s, _ in scalars] == [("train/loss", 0), ("train/loss", 150), ("val/auc", 150),
                                               ("train/lr", 2**40)]
    assert [v for _, _, v in scalars] == pytest.approx([0.6931, 0.25, 0.4, 1e-2], rel=1e-6)  # float32


def test_first_record_holds_the_file_version(tmp_path):
    writer = EventWriter(tmp_path)
    writer.close()
    records = read_records(writer.path)
    assert len(records) == 1 and b"brain.Event:2" in records[0]
    # wall_time: field 1, 64-bit (key 0x09), then step: field 2, varint (key 0x10).
    assert records[0][0] == 0x09 and records[0][9] == 0x10


def test_two_writers_in_one_second_get_two_files(tmp_path):
    a, b = EventWriter(tmp_path), EventWriter(tmp_path)
    a.add_scalar("x", 1.0, 1)
    b.add_scalar("x", 2.0, 2)
    a.close()
    b.close()
    assert a.path != b.path
    assert sorted(read_scalars(tmp_path)) == [("x", 1, 1.0), ("x", 2, 2.0)]


def test_corrupt_file_is_detected(tmp_path):
    writer = EventWriter(tmp_path)
    writer.add_scalar("loss", 1.0, 1)
    writer.close()
    raw = bytearray(writer.path.read_bytes())
    raw[-6] ^= 0xFF  # inside the last record's data
    writer.path.write_bytes(bytes(raw))
    with pytest.raises(UserError, match="CRC"):
        read_scalars(writer.path)


def test_record_framing(tmp_path):
    writer = EventWriter(tmp_path)
    writer.close()
    raw = writer.path.read_bytes()
    (length,) = struct.unpack("<Q", raw[:8])
    assert len(raw) == 8 + 4 + length + 4


def test_tensorboard_reads_the_file(tmp_path):
    event_accumulator = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")
    with EventWriter(tmp_path) as writer:
        writer.add_scalar("train/loss", 0.5, 3)
        writer.add_scalar("train/loss", 0.25, 7)
    acc = event_accumulator.EventAccumulator(str(tmp_path))
    acc.Reload()
    events = acc.Scalars("train/loss")
    assert [(e.step, e.value) for e in events] == [(3, 0.5), (7, 0.25)]
