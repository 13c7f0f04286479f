"""central/serving/metrics.py AuditRows: /metrics counts the audit log whole once per process,
then only the rows added since, and stays exact: a rolled-back append leaves a gap in the ids,
not in the count; a fresh process counts the same."""

from __future__ import annotations

from sqlalchemy import Engine, func, select

from central.accounts import audit
from central.accounts.principals import Principal
from central.db.tables import audit_log
from central.serving.metrics import AuditRows

WHO = Principal("审计员", "supervisor", None)


def _total(engine: Engine) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(audit_log)).scalar_one()


def _read(engine: Engine, rows: AuditRows) -> int:
    with engine.connect() as conn:
        return rows.read(conn)


def test_the_count_follows_appends_and_skips_rolled_back_ones(engine: Engine) -> None:
    counted = AuditRows()
    base = _read(engine, counted)  # the module's database is shared by its tests
    assert base == _total(engine)
    for i in range(3):
        audit.append(engine, WHO, "search", f"计数 {i}", {"name": "张"}, i)
    assert _read(engine, counted) == base + 3
    with engine.connect() as conn, conn.begin() as transaction:  # an id taken, then undone
        audit.append_in(conn, WHO, "search", "撤销", {"name": "李"}, 0)
        transaction.rollback()
    audit.append(engine, WHO, "view", "查看 1", {"stay": "x"}, 1)
    assert _read(engine, counted) == base + 4 == _total(engine)
    assert _read(engine, AuditRows()) == base + 4  # another process counts the same
    assert _read(engine, counted) == base + 4  # nothing new: unchanged
