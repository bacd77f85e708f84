"""The operator admin's pages for rule sets: drafts, their preview against history, and their
publication (docs/rules.md, "Drafts, preview, publication").

Thin: parse, fetch (a page with an object is a 404 for anyone but an operator admin, the list a
403), call one service in ``drafts``, respond. The sample registrations are shown masked.
"""

from functools import wraps

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.cache import patch_cache_control
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from core import vocabulary
from core.masking import mask_msisdn, mask_name
from core.queue import send
from core.roles import is_operator

from . import drafts, rulebook
from .models import PolicyStatus, RegistrationPolicy, RulePreview
from .preview import CAP_STATES, CODES, OUTCOMES, sample_registrations

GROUPS_SHOWN = 50
# A queued preview no worker took within this time is sent again (the broker was away).
RESEND_AFTER_SECONDS = 60

OUTCOME_LABELS = {
    "accepted": gettext_lazy("accepted"),
    "flagged": gettext_lazy("flagged for review"),
    "refused": gettext_lazy("refused"),
}
CAP_LABELS = {
    "under": gettext_lazy("within the cap"),
    "permitted": gettext_lazy("over the cap, allowed at the outlet"),
    "refused": gettext_lazy("over the cap, refused at the outlet"),
    "purpose": gettext_lazy("over the cap, no declared purpose"),
}
DIMENSIONS = {
    "outlet": gettext_lazy("By outlet"),
    "dealer": gettext_lazy("By dealer"),
    "province": gettext_lazy("By province"),
}


DAY = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


class PreviewForm(forms.Form):
    period_from = forms.DateField(label=gettext_lazy("Registrations from"), widget=DAY)
    period_to = forms.DateField(label=gettext_lazy("until (included)"), widget=DAY)


class PublishForm(forms.Form):
    effective_from = forms.DateField(label=gettext_lazy("In force from"), widget=DAY)


def _private(response: HttpResponse) -> HttpResponse:
    patch_cache_control(response, private=True, no_store=True)
    return response


def operator_only(view):
    """Operator admins only: the list is a 403 for anyone else, a page with an object a 404."""

    @login_required
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not is_operator(request.user):
            if kwargs:
                raise Http404
            raise PermissionDenied(_("Only operator admins manage rule sets."))
        return view(request, *args, **kwargs)

    return wrapper


def _apply_errors(form: forms.Form, exc: ValidationError) -> None:
    for name, errors in exc.message_dict.items():
        form.add_error(name if name in form.fields else None, errors)


@operator_only
def rule_set_list(request):
    context = {
        "published": RegistrationPolicy.objects.order_by("-effective_from"),
        "drafts": RegistrationPolicy.all_objects.filter(status=PolicyStatus.DRAFT).order_by("-id"),
        "today": timezone.localdate(),
    }
    return _private(render(request, "subscribers/rule_sets.html", context))


@require_POST
@operator_only
def rule_set_copy(request, pk):
    source = get_object_or_404(RegistrationPolicy.all_objects, pk=pk)
    draft = drafts.draft_create(actor=request.user, source=source)
    messages.success(request, _("Draft %(code)s created.") % {"code": draft.code})
    return redirect("subscribers:rule_draft", pk=draft.pk)


def _differences(draft: RegistrationPolicy) -> list[tuple]:
    """(field label, the rule set copied, the draft) where they differ."""
    source = draft.based_on
    if source is None:
        return []
    found = []
    for name in drafts.rule_fields():
        field = RegistrationPolicy._meta.get_field(name)
        before, after = getattr(source, name), getattr(draft, name)
        if before != after:
            found.append((field.verbose_name, before, after))
    return found


def _draft_page(request, draft, *, preview_form=None, publish_form=None, status=200):
    context = {
        "draft": draft,
        "differences": _differences(draft),
        "previews": draft.previews.all()[:20],
        "preview_form": preview_form or PreviewForm(),
        "publish_form": publish_form or PublishForm(),
    }
    return _private(render(request, "subscribers/rule_draft.html", context, status=status))


def _draft_or_404(pk) -> RegistrationPolicy:
    return get_object_or_404(RegistrationPolicy.all_objects, pk=pk, status=PolicyStatus.DRAFT)


@operator_only
def rule_draft(request, pk):
    return _draft_page(request, _draft_or_404(pk))


@require_POST
@operator_only
def rule_draft_preview(request, pk):
    draft = _draft_or_404(pk)
    form = PreviewForm(request.POST)
    if form.is_valid():
        try:
            preview = drafts.preview_request(actor=request.user, draft=draft, **form.cleaned_data)
        except ValidationError as exc:
            _apply_errors(form, exc)
        else:
            return redirect("subscribers:rule_preview", pk=preview.pk)
    return _draft_page(request, draft, preview_form=form, status=400)


@require_POST
@operator_only
def rule_draft_publish(request, pk):
    draft = _draft_or_404(pk)
    form = PublishForm(request.POST)
    if form.is_valid():
        try:
            drafts.draft_publish(actor=request.user, draft=draft, **form.cleaned_data)
        except ValidationError as exc:
            _apply_errors(form, exc)
        else:
            messages.success(
                request,
                _("Rule set %(code)s published: in force from %(day)s.")
                % {"code": draft.code, "day": form.cleaned_data["effective_from"].isoformat()},
            )
            return redirect("subscribers:rule_sets")
    return _draft_page(request, draft, publish_form=form, status=400)


@operator_only
def rule_preview(request, pk):
    preview = get_object_or_404(RulePreview.objects.select_related("draft"), pk=pk)
    waited = (timezone.now() - preview.created_at).total_seconds()
    if preview.status == RulePreview.Status.QUEUED and waited > RESEND_AFTER_SECONDS:
        from .tasks import run_rule_preview

        send(run_rule_preview, preview.pk)
    result = preview.result or {}
    totals = result.get("totals") or {}
    decisions = totals.get("decisions") or {}
    samples = result.get("samples") or {}
    rows = [
        {
            "code": code,
            "label": rulebook.LABELS[code],
            "kind": "refusal"
            if code in rulebook.REFUSALS
            else "flag"
            if code in rulebook.FLAGS
            else "note",
            **decisions.get(code, {}),
            "new_samples": f"{code}:new" in samples,
            "gone_samples": f"{code}:gone" in samples,
        }
        for code in CODES
    ]
    outcomes = [(OUTCOME_LABELS[o], (totals.get("outcomes") or {}).get(o, {})) for o in OUTCOMES]
    outcome_changes = [
        (
            f"outcome:{key}",
            OUTCOME_LABELS[key.split(">")[0]],
            OUTCOME_LABELS[key.split(">")[1]],
            count,
        )
        for key, count in sorted((totals.get("outcome_changes") or {}).items())
    ]
    cap_changes = [
        (f"cap:{key}", CAP_LABELS[key.split(">")[0]], CAP_LABELS[key.split(">")[1]], count)
        for key, count in sorted((totals.get("cap_changes") or {}).items())
        if key.split(">")[0] in CAP_STATES
    ]

    def entries(dimension: str) -> list[dict]:
        found = (result.get("groups") or {}).get(dimension, [])[:GROUPS_SHOWN]
        if dimension == "province":  # stored by its code: its name beside it
            found = [{**e, "label": vocabulary.label("province", e.get("key"))} for e in found]
        return found

    groups = [(label, entries(dimension)) for dimension, label in DIMENSIONS.items()]
    context = {
        "preview": preview,
        "totals": totals,
        "rows": rows,
        "outcomes": outcomes,
        "outcome_changes": outcome_changes,
        "cap_changes": cap_changes,
        "groups": groups,
        "running": preview.status in (RulePreview.Status.QUEUED, RulePreview.Status.RUNNING),
    }
    return _private(render(request, "subscribers/rule_preview.html", context))


def _bucket_label(bucket: str) -> str:
    kind, _sep, key = bucket.partition(":")
    if kind == "outcome":
        before, after = key.split(">")
        return f"{OUTCOME_LABELS[before]} → {OUTCOME_LABELS[after]}"
    if kind == "cap":
        before, after = key.split(">")
        return f"{CAP_LABELS[before]} → {CAP_LABELS[after]}"
    change = _("newly") if key == "new" else _("no longer")
    return f"{change}: {rulebook.LABELS[kind]}"


@operator_only
def rule_preview_samples(request, pk, bucket):
    preview = get_object_or_404(RulePreview, pk=pk)
    if bucket not in (preview.result.get("samples") or {}):
        raise Http404
    registrations = [
        {
            "pk": registration.pk,
            "registration_number": registration.registration_number,
            "registered_at": registration.registered_at,
            "msisdn": mask_msisdn(registration.msisdn),
            "id_number": registration.id_number_masked,
            "name": mask_name(registration.full_name),
            "outlet": registration.outlet,
            "status": registration.get_status_display(),
        }
        for registration in sample_registrations(preview, bucket)
    ]
    context = {"preview": preview, "label": _bucket_label(bucket), "registrations": registrations}
    return _private(render(request, "subscribers/rule_preview_samples.html", context))
