"""What a certificate and its verification say: masking, numbers typed from paper, the hours' source."""
from __future__ import annotations

import pytest

from services.completion import certificates
from services.identity.pii import mask_name
from services.school import majors


@pytest.mark.parametrize("name, masked", [("张三", "张*"), ("王小明", "王**"), ("欧阳小明", "欧***"), ("李", "李*"),
                                          (" 张三 ", "张*"), ("", "")])
def test_mask_name_keeps_only_the_first_character(name, masked):
    assert mask_name(name) == masked


@pytest.mark.parametrize("raw, number", [("ABCDEFGHJKMN", "ABCDEFGHJKMN"), (" abcdefghjkmn ", "ABCDEFGHJKMN"),
                                         ("ABCDEFGHJKM", None), ("ABCDEFGHJKM0", None), ("ABCDEFGHJKMNP", None),
                                         ("ABCDEFGHJK/N", None)])
def test_normalize_number_accepts_only_a_possible_number(raw, number):
    assert certificates.normalize_number(raw) == number


def test_hours_are_the_majors_module_constants():
    hours = certificates.HOURS
    assert (hours.public, hours.professional, hours.exam) == (
        majors.PUBLIC_HOURS, majors.PROFESSIONAL_HOURS, majors.EXAM_HOURS)
    assert hours.total == 60

