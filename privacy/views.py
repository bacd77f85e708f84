"""The operator admin's personal-data pages: data-subject requests and the long jobs.

Thin: parse, fetch through the selectors (a request is a 404 for anyone but an operator admin,
the pages without an object a 403), call one service, respond. Every response carrying personal
data is private and not stored by caches.
"""

from functools import wraps

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils.cache import patch_cache_control
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from compliance.workflow import story
from core import external_digests
from core.roles import is_operator

from . import selectors, services
from .forms import ConfirmForm, DecideForm, ExportForm, JobStartForm, SubjectLookupForm
from .models import PrivacyJob

RECENT = 20
EVENTS_SHOWN = 200

# action in the URL → (service, page title, what it does, message once done)
ACTIONS = {
    "erase": (
        services.data_subject_request_erase,
        gettext_lazy("Erase the person's data"),
        gettext_lazy(
            "Registrations whose number is out of service are anonymised now: photos deleted, "
            "name, birth place, address and ID/KK numbers removed. Registrations whose number "
            "is still in service, or that are part of an open case, are restricted now and "
            "anonymised automatically as soon as that ends. Inactive outlet-staff records lose "
            "their ID and KK numbers. This cannot be undone."
        ),
        gettext_lazy("Erasure done."),
    ),
    "restrict": (
        services.data_subject_request_restrict,
        gettext_lazy("Restrict processing"),
        gettext_lazy(
            "The registrations' personal data will be shown to operator admins only and left "
            "out of every list and export for other roles, until the restriction is lifted."
        ),
        gettext_lazy("Processing restricted."),
    ),
    "lift-restriction": (
        services.data_subject_request_lift_restriction,
        gettext_lazy("Lift the restriction"),
        gettext_lazy(
            "The registrations become visible again to the roles that may see them. "
            "Registrations waiting for erasure stay restricted."
        ),
        gettext_lazy("Restriction lifted."),
    ),
}


def _private(response: HttpResponse) -> HttpResponse:
    patch_cache_control(response, private=True, no_store=True)
    return response


def operator_required(view):
    """Pages without an object: an operator admin, or 403."""

    @login_required
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not is_operator(request.user):
            raise PermissionDenied(_("Only operator admins handle personal-data requests."))
        return view(request, *args, **kwargs)

    return wrapper


@operator_required
def index(request):
    """Search by ID number (a POST: the number never goes into a URL or a log) and the
    requests handled lately."""
    form = SubjectLookupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            subject_request = services.data_subject_request_open(
                actor=request.user, **form.cleaned_data
            )
        except ValidationError as exc:
            for name, errors in exc.message_dict.items():
                form.add_error(name if name in form.fields else None, errors)
        else:
            return redirect("privacy:request", pk=subject_request.pk)
    context = {"form": form, "recent": selectors.requests_for_user(user=request.user)[:RECENT]}
    return _private(render(request, "privacy/index.html", context))


def _told(events) -> list:
    """The events with who acted as a reader names them (a person and role, or what the
    system actor is — never a command's internal label)."""
    events = list(events)
    for event in events:
        event.who = story.who(event)
    return events


def _refused(request, subject_request, exc: ValidationError) -> HttpResponse:
    """An action the service refused (nothing was done): a page saying why, with the records
    that disagree where that is the reason — 409 for an ambiguous match (decide first), 400 for
    anything else. Never a 500."""
    ambiguous = isinstance(exc, services.AmbiguousMatch)
    context = {
        "subject_request": subject_request,
        "reasons": exc.messages,
        "ambiguous": exc.holdings if ambiguous else [],
    }
    response = render(request, "privacy/refused.html", context, status=409 if ambiguous else 400)
    return _private(response)


@login_required
def request_detail(request, pk):
    subject_request = selectors.request_get_for_user(user=request.user, pk=pk)
    records = services.data_subject_request_view(actor=request.user, request=subject_request)
    disagreeing = selectors.request_disagreements(request=subject_request, records=records)
    context = {
        "disagreeing": disagreeing,
        "subject_request": subject_request,
        "registrations": [
            (registration, records.state(registration)) for registration in records.registrations
        ],
        "guarded": [
            (registration, records.state(registration)) for registration in records.guarded
        ],
        "outlet_staff": records.outlet_staff,
        "holder": records.holder,
        "discrepancies": records.discrepancies,
        "events": _told(records.audit_events.select_related("actor")[:EVENTS_SHOWN]),
        "events_total": records.audit_events.count(),
        "events_shown": EVENTS_SHOWN,
        "earlier": selectors.earlier_requests(subject_request)[:RECENT],
        "export_form": ExportForm(),
    }
    return _private(render(request, "privacy/request_detail.html", context))


@login_required
@require_POST
def request_export(request, pk):
    subject_request = selectors.request_get_for_user(user=request.user, pk=pk)
    form = ExportForm(request.POST)
    if not form.is_valid():
        return HttpResponse(_("Choose JSON or CSV."), status=400, content_type="text/plain")
    try:
        export = services.data_subject_request_export(
            actor=request.user, request=subject_request, fmt=form.cleaned_data["format"]
        )
    except ValidationError as exc:
        return _refused(request, subject_request, exc)
    response = HttpResponse(export.content, content_type=f"{export.content_type}; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{export.filename}"'
    return _private(response)


@login_required
def request_action(request, pk, action):
    """Erase, restrict or lift a restriction: a confirmation page, then the POST does it."""
    if action not in ACTIONS:
        raise Http404("unknown action")
    subject_request = selectors.request_get_for_user(user=request.user, pk=pk)
    service, title, explanation, done = ACTIONS[action]
    form = ConfirmForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            service(actor=request.user, request=subject_request)
        except ValidationError as exc:
            return _refused(request, subject_request, exc)
        messages.success(request, done)
        return redirect("privacy:request", pk=subject_request.pk)
    context = {
        "subject_request": subject_request,
        "form": form,
        "title": title,
        "explanation": explanation,
        "action": action,
        "danger": action == "erase",
    }
    return _private(render(request, "privacy/confirm.html", context))


@login_required
@require_POST
def request_decide(request, pk):
    """The operator admin's decision, record by record, on what the number matched ambiguously:
    this person's or another's (audited). Undecided records stay ambiguous."""
    subject_request = selectors.request_get_for_user(user=request.user, pk=pk)
    records = selectors.data_subject_records(
        digests=subject_request.id_number_digests,
        person=subject_request.person,
        decisions=subject_request.decisions,
    )
    keys = [
        item["key"]
        for item in selectors.request_disagreements(request=subject_request, records=records)
    ]
    form = DecideForm(request.POST, keys=keys)
    if not form.is_valid() or not form.decisions():
        messages.error(request, _("Choose, for at least one record, whose it is."))
        return redirect("privacy:request", pk=subject_request.pk)
    try:
        services.data_subject_request_decide(
            actor=request.user, request=subject_request, decisions=form.decisions()
        )
    except ValidationError as exc:
        return _refused(request, subject_request, exc)
    messages.success(request, _("Decision recorded."))
    return redirect("privacy:request", pk=subject_request.pk)


@operator_required
def jobs(request):
    """The long jobs, what a purge would do now, and buttons to start one."""
    form = JobStartForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        start = {
            PrivacyJob.Kind.RETENTION_PURGE: services.retention_purge_start,
            PrivacyJob.Kind.DEACTIVATION_SYNC: services.number_deactivations_sync_start,
            PrivacyJob.Kind.KEY_ROTATION: services.key_rotation_start,
            PrivacyJob.Kind.DIGEST_ROTATION: services.digest_rotation_start,
        }[form.cleaned_data["kind"]]
        try:
            job = start(trigger=PrivacyJob.Trigger.PAGE, requested_by=request.user)
        except services.DigestRotationNeedsPostgres:
            messages.error(
                request,
                _(
                    "The digest key rotation needs PostgreSQL, and this installation's database "
                    "is another. Nothing was started."
                ),
            )
        except services.DigestRotationRefused:
            messages.error(
                request,
                _(
                    "The digest key rotation needs ID_DIGEST_KEY set to the new key and "
                    "ID_DIGEST_KEY_PREVIOUS to the current one on every process first "
                    "(see the personal-data documentation). Nothing was started."
                ),
            )
        except services.JobAlreadyActive as exc:
            messages.error(
                request,
                _("A job of this kind is already queued or running (#%(pk)s).")
                % {"pk": exc.job.pk if exc.job else "?"},
            )
        else:
            messages.success(request, _("Job #%(pk)s queued.") % {"pk": job.pk})
        return redirect("privacy:jobs")
    context = {
        "jobs": selectors.jobs_for_user(user=request.user)[:RECENT],
        "preview": selectors.retention_preview(),
        "kinds": PrivacyJob.Kind.choices,
        "reload": external_digests.stale(),
    }
    return _private(render(request, "privacy/jobs.html", context))


@operator_required
@require_POST
def job_resume(request, pk):
    job = selectors.jobs_for_user(user=request.user).filter(pk=pk).first()
    if job is None:
        raise Http404("no such job")
    try:
        services.privacy_job_resume(job_id=job.pk, requested_by=request.user)
    except services.JobAlreadyActive:
        messages.error(request, _("Another job of this kind is already queued or running."))
    else:
        messages.success(request, _("Job #%(pk)s queued again.") % {"pk": job.pk})
    return redirect("privacy:jobs")
