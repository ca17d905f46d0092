"""The one time helper: times are stored in UTC (timezone-aware) and shown in Asia/Shanghai.

`utcnow` is the models' own column default, so a row's times and a service's agree by construction.
"""
from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from models.types import utcnow

__all__ = ["SHANGHAI", "utcnow", "moment", "local_text"]

SHANGHAI = ZoneInfo("Asia/Shanghai")


def moment(epoch_s: float) -> datetime:
    """A `time.time()` reading (the player's clock) as an aware UTC datetime."""
    return datetime.fromtimestamp(epoch_s, UTC)


def local_text(moment: datetime) -> str:
    """`2027年3月1日 09:00` in Shanghai time."""
    local = moment.astimezone(SHANGHAI)
    return f"{local.year}年{local.month}月{local.day}日 {local:%H:%M}"
