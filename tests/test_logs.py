"""The log safety net: whatever slips into a line, phones, ID cards and QR tokens leave masked."""
from __future__ import annotations

import logging

import pytest

from wxapp.logs import ScrubFilter, kv, scrub


@pytest.mark.parametrize("raw, masked", [
    ("phone=13912345678 ok", "phone=139****5678 ok"),
    ("id 32050519800101123X.", "id 3205**********123X."),
    ("id=320505198001011234,phone=13912345678", "id=3205**********1234,phone=139****5678"),
    ('"GET /h5/attend/AbC-123_x?y=1 HTTP/1.1"', '"GET /h5/attend/***?y=1 HTTP/1.1"'),
    ("手机13912345678已绑定", "手机139****5678已绑定"),
])
def test_personal_data_is_masked(raw, masked):
    assert scrub(raw) == masked


@pytest.mark.parametrize("text", [
    "created=1700000000 took=12ms",
    "order 139123456789 is twelve digits",   # not a mobile: one digit too many
    "12912345678 starts with 12",            # no mobile starts 12
    "ref ABC320505198001011234 is part of a longer code",
])
def test_other_numbers_are_left_alone(text):
    assert scrub(text) == text


def test_filter_rewrites_the_record_only_when_needed(caplog):
    log = logging.getLogger("wxapp.test")
    record = log.makeRecord(log.name, logging.INFO, __file__, 1, "bind phone=%s", ("13912345678",), None)
    assert ScrubFilter().filter(record) and record.getMessage() == "bind phone=139****5678"
    clean = log.makeRecord(log.name, logging.INFO, __file__, 1, "count=%d", (3,), None)
    ScrubFilter().filter(clean)
    assert clean.args == (3,)


def test_kv_quotes_values_with_spaces_and_marks_missing_ones():
    assert kv("event", a=1, b="x y", c=None, d="") == 'event a=1 b="x y" c=- d=""'
