"""Writes of the risk app: the refresh of the signal rows (``risk.refresh``), after the report
summary tables it reads its registration counts from."""

from reports.summary import summaries_refresh

from .refresh import RiskRefreshOutcome, risk_signals_refresh


def risk_refresh(*, full: bool = False) -> RiskRefreshOutcome:
    """Bring the report summary tables, then the signal rows and the recent outlets above the
    baseline, up to date."""
    summaries_refresh(full=full)
    return risk_signals_refresh(full=full)
