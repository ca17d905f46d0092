"""The rehearsal's verdict: figures in, PASS/FAIL rows out (pure functions, tested without a run)."""
from __future__ import annotations

import csv
import json
from dataclasses import asdict, dataclass
from pathlib import Path

CALLBACK_P99_MS = 300
HEARTBEAT_P99_MS = 200
EXAM_START_P99_MS = 3000
NOTICE_WINDOW_S = 120
RSS_GROWTH = 0.10
TAKEOVER_S = 60


@dataclass(frozen=True)
class Row:
    target: str
    figure: str
    passed: bool

    @property
    def verdict(self) -> str:
        return "PASS" if self.passed else "FAIL"


def locust_stats(csv_path: Path) -> dict[str, dict]:
    """Locust's `<prefix>_stats.csv`, by request name: count, failures, p50/p99 (ms)."""
    stats = {}
    with open(csv_path, newline="") as f:
        for row in csv.DictReader(f):
            stats[row["Name"]] = {"count": int(row["Request Count"]), "failures": int(row["Failure Count"]),
                                  "p50": _num(row.get("50%")), "p99": _num(row.get("99%")),
                                  "max": _num(row.get("Max Response Time"))}
    return stats


def _num(value: str | None) -> float | None:
    try:
        return float(value) if value not in (None, "", "N/A") else None
    except ValueError:
        return None


def judge(f: dict) -> list[Row]:
    """`f`: the run's figures (see bench/term.py `figures`). Missing figures fail."""
    rows = []
    errors = f.get("errors", {})
    bad = sum(n for kind, n in errors.items() if kind.startswith("http_5") or kind == "timeout_or_connection")
    rows.append(Row("0 errors (5xx, timeouts)", f"{bad} ({_kinds(errors)}); requests {f.get('requests', 0)}", bad == 0))
    for name, label, limit in (("callback", "callback p99", CALLBACK_P99_MS),
                               ("heartbeat", "heartbeat p99", HEARTBEAT_P99_MS),
                               ("exam start", "exam start p99", EXAM_START_P99_MS)):
        stat = f.get("stats", {}).get(name) or {}
        p99 = stat.get("p99")
        proxy = (f.get("proxy") or {}).get(name)
        at_proxy = f"; at the proxy p99 {proxy['p99']:.0f} ms (p50 {proxy['p50']:.0f})" if proxy else ""
        rows.append(Row(f"{label} <= {limit} ms", f"{p99:.0f} ms (p50 {stat.get('p50') or 0:.0f}, n={stat.get('count', 0)})"
                        + at_proxy if p99 is not None else "no requests",
                        p99 is not None and p99 <= limit and stat.get("count", 0) > 0))
    n = f.get("notice", {})
    expected = n.get("expected", 0)
    once = n.get("delivered_once", 0)
    rows.append(Row(f"{expected} notices delivered exactly once within {NOTICE_WINDOW_S} s",
                    f"{n.get('within_window', 0)} within {NOTICE_WINDOW_S} s, {once} by the end (WeChat {n.get('wechat', 0)}"
                    f" + SMS {n.get('sms', 0)}); duplicates {n.get('duplicates', 0)}, missing {n.get('missing', expected)}; "
                    f"all in {_s(n.get('all_in_s'))}",
                    expected > 0 and n.get("duplicates", 1) == 0 and n.get("missing", 1) == 0
                    and n.get("within_window", 0) >= expected))
    rss = f.get("rss", {})
    growth = rss.get("max_growth")
    since_kill = (f.get("rss_after_kill") or {}).get("max_growth")
    rows.append(Row(f"worker RSS growth < {RSS_GROWTH:.0%} (steady soak)",
                    f"max {growth:+.1%} ({rss.get('worst', '')}) from {_s(rss.get('baseline_t'))} to the end"
                    + (f"; from 2 min after the kill {since_kill:+.1%}" if since_kill is not None else "")
                    if growth is not None else "no samples",
                    growth is not None and growth < RSS_GROWTH))
    conn = f.get("connections", {})
    rows.append(Row("PostgreSQL connections under the pools' sum",
                    f"max {conn.get('max_pg', '?')} <= {conn.get('pool_sum', '?')}; PgBouncer max waiting clients "
                    f"{conn.get('max_waiting', '?')}",
                    conn.get("max_pg") is not None and conn["max_pg"] <= conn.get("pool_sum", 0)))
    k = f.get("kill", {})
    takeover = k.get("takeover_s")
    rows.append(Row(f"scheduler takeover <= {TAKEOVER_S} s",
                    f"{_s(takeover)} (host {k.get('host', '?')} killed; beats after: {k.get('beats_after', {})}; "
                    f"credit lost {k.get('credit_lost', '?')}; requests in flight on it {k.get('in_flight_at_kill', '?')}, "
                    f"sent to it after and passed on {k.get('refused_by_dead_host', '?')})" if k else "no kill",
                    takeover is not None and takeover <= TAKEOVER_S and k.get("credit_lost", 1) == 0
                    and not k.get("beats_on_dead_host")))
    return rows


def _s(value) -> str:
    return f"{value:.1f} s" if isinstance(value, (int, float)) else "—"


def _kinds(errors: dict) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted(errors.items())) or "none"


def table(rows: list[Row]) -> str:
    width = max(len(r.target) for r in rows)
    lines = [f"{'target':<{width}}  verdict  figure", "-" * (width + 40)]
    lines += [f"{r.target:<{width}}  {r.verdict:<7}  {r.figure}" for r in rows]
    return "\n".join(lines)


def write_json(path: Path, rows: list[Row], figures: dict) -> None:
    path.write_text(json.dumps({"passed": all(r.passed for r in rows),
                                "rows": [{**asdict(r), "verdict": r.verdict} for r in rows],
                                "figures": figures}, indent=2, ensure_ascii=False, default=str))
