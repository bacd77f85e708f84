"""Risk pages: the outlets ranked by their signals, one outlet's signals explained, and the
records behind a signal.

Thin: scope (``reports.scope``: outlet staff get a 403, another dealer's outlet a 404), parse
the period, read the figures, render. The regulator, GraPARI and the operator see every
outlet; a dealer admin its own.
"""

from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.template.defaultfilters import floatformat
from django.utils import timezone
from django.utils.cache import patch_cache_control
from django.utils.formats import localize
from django.utils.html import conditional_escape
from django.utils.safestring import mark_safe
from django.utils.translation import gettext

from core.pagination import CappedCountPaginator as Paginator
from reports.forms import ReportFilterForm, filter_from_query
from reports.scope import ReportFilter, ReportScope
from reports.templatetags.reports_tags import percent

from .figures import OutletRisk, SignalFigure, outlet_risks
from .records import outlet_get_for_scope, record_lines, signal_registrations
from .refresh import risk_state
from .signals import BY_CODE, SIGNALS
from .tasks import request_risk_refresh

PAGE_SIZE = 50
OUTLETS_SHOWN = 100


@dataclass(frozen=True)
class ReasonLine:
    figure: SignalFigure
    url: str
    text: str  # safe: its values escaped


@dataclass(frozen=True)
class RankedLine:
    risk: OutletRisk
    url: str
    score: str
    baseline: str
    reasons: list[ReasonLine]


def _text(message: str, **values) -> str:
    """``message`` (translated) with its values as a template prints them
    (localised, escaped) — what ``{% blocktranslate %}`` renders, without a template render a
    line: the page lists up to ``OUTLETS_SHOWN`` outlets with several reasons each."""
    escaped = {name: conditional_escape(localize(value)) for name, value in values.items()}
    return mark_safe(message % escaped)  # noqa: S308 (every value escaped)


def _ranked_lines(ranked: list[OutletRisk], query: str) -> list[RankedLine]:
    lines = []
    baselines: dict[str, str] = {}  # one text a kind of baseline
    for risk in ranked:
        if risk.peer_level not in baselines:
            baselines[risk.peer_level] = _text(gettext("baseline: %(who)s"), who=risk.peer_label)
        reasons = [
            ReasonLine(
                figure,
                f"{risk.url}{figure.code}/?{query}",
                _text(
                    gettext(
                        "%(count)s of %(n)s registrations (%(rate)s) against a baseline of "
                        "%(baseline)s — %(distance)s standard deviations above"
                    ),
                    count=figure.count,
                    n=figure.registrations,
                    rate=percent(figure.rate),
                    baseline=percent(figure.baseline),
                    distance=floatformat(figure.distance, 1),
                ),
            )
            for figure in risk.reasons
        ]
        lines.append(
            RankedLine(
                risk,
                f"{risk.url}?{query}",
                _text(gettext("score %(score)s"), score=floatformat(risk.score, 1)),
                baselines[risk.peer_level],
                reasons,
            )
        )
    return lines


def _private(response):
    patch_cache_control(response, private=True, no_store=True)
    return response


def _filter(request, scope: ReportScope) -> tuple[ReportFilter, ReportFilterForm]:
    return filter_from_query(request.GET, scope)


def _freshness() -> dict:
    state = risk_state()
    as_of = state.refreshed_at if state else None
    stale = as_of is None or timezone.now() - as_of > timedelta(
        seconds=3 * settings.REPORTS_REFRESH_SECONDS
    )
    if stale:
        request_risk_refresh()  # the beat schedule keeps them fresh; if it stopped, ask
    return {"as_of": as_of, "stale": stale and as_of is not None}


@login_required
def outlets_view(request):
    """The outlets with a signal above the baseline, by rank, each with its reasons."""
    scope = ReportScope.for_user(request.user)  # PermissionDenied → 403 for outlet staff
    flt, form = _filter(request, scope)
    freshness = _freshness()
    risks = outlet_risks(flt, scope)
    ranked = [r for r in risks if r.rank is not None]
    query = flt.query_string()
    context = {
        "form": form,
        "flt": flt,
        "query": query,
        "ranked": ranked[:OUTLETS_SHOWN],
        "lines": _ranked_lines(ranked[:OUTLETS_SHOWN], query),
        "more_ranked": max(len(ranked) - OUTLETS_SHOWN, 0),
        "clean": len(risks) - len(ranked),
        "outlets": len(risks),
        "signals": SIGNALS,
        "minimum_count": settings.RISK_MIN_COUNT,
        "minimum_distance": settings.RISK_MIN_DISTANCE,
        **freshness,
    }
    return _private(render(request, "risk/outlets.html", context))


@login_required
def outlet_view(request, roid: str):
    """Every signal of one outlet: count, rate, baseline, distance, and the records behind."""
    scope = ReportScope.for_user(request.user)
    outlet = outlet_get_for_scope(roid=roid, scope=scope)
    flt, form = _filter(request, scope)
    only = flt.with_(province="", dealer="", outlet=outlet.roid)
    risk = outlet_risks(only, scope)[0]
    context = {
        "form": form,
        "flt": flt,
        "query": flt.query_string(outlet="", province="", dealer=""),
        "risk": risk,
        "outlet": outlet,
        "minimum_count": settings.RISK_MIN_COUNT,
        "minimum_distance": settings.RISK_MIN_DISTANCE,
        **_freshness(),
    }
    return _private(render(request, "risk/outlet.html", context))


@login_required
def records_view(request, roid: str, signal: str):
    """The registrations behind one signal of one outlet in the period, masked for the role."""
    scope = ReportScope.for_user(request.user)
    outlet = outlet_get_for_scope(roid=roid, scope=scope)
    flt, _form = _filter(request, scope)
    qs = signal_registrations(flt=flt, scope=scope, outlet=outlet, signal=signal)
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    context = {
        "page": page,
        "lines": record_lines(page.object_list, user=request.user),
        "flt": flt,
        "query": flt.query_string(outlet="", province="", dealer=""),
        "outlet": outlet,
        "signal": BY_CODE[signal],
    }
    return _private(render(request, "risk/records.html", context))
