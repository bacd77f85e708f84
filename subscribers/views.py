"""Web pages of the registration journey: the form, the receipt, the list, the detail, photos.

Thin: parse, fetch through the user-scoped selectors (an outsider gets a 404), call one
service, respond. The rules live in ``services``; the receipt's content in ``receipts``.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import FileResponse, Http404, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.cache import patch_cache_control
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from core.audit import AuditAction, audit_record
from core.disclosure import Kind, disclose, sees_every_detail, sees_in_full
from core.masking import local_msisdn
from core.pagination import CappedCountPaginator as Paginator
from core.publicurl import public_url
from outlets.models import StarterPack
from outlets.selectors import staff_membership_for_user, starter_packs_for_user

from . import heldphotos, receipts, services
from .forms import PHOTO_FIELDS, RegistrationForm
from .models import Registration
from .selectors import (
    NoPolicyInForce,
    policy_in_force,
    registration_get_for_user,
    registration_read_for_user,
    registrations_for_user,
)

PAGE_SIZE = 25
# The datalist of packs in stock: enough for a counter's drawer, light on a weak network.
PACKS_IN_PICKER = 200
PHOTO_KINDS = ("id_photo", "id_photo_thumb", "face_photo", "face_photo_thumb")


def _private(response: HttpResponse) -> HttpResponse:
    """Personal data must not linger in shared or browser caches."""
    patch_cache_control(response, private=True, no_store=True)
    return response


# --- the form ---------------------------------------------------------------------------------


def _membership_or_403(request):
    membership = staff_membership_for_user(user=request.user)
    if membership is None:
        raise PermissionDenied(
            _(
                "Only staff of an outlet can register buyers. If you work at an outlet, ask "
                "your dealer to add you to its staff."
            )
        )
    return membership


def _policy_or_none():
    try:
        return policy_in_force()
    except NoPolicyInForce:
        return None


def _buyer(request) -> str:
    """Whose photos a submit carries (``heldphotos.buyer_key``): the ID number it holds."""
    return heldphotos.buyer_key(request.POST.get("id_type"), request.POST.get("id_number"))


def _with_held_photos(request):
    """The request's files, with the photos kept from the clerk's last failed try for the photo
    fields left empty this time (``subscribers.heldphotos``) — only those kept for the same
    ID number: a photo is never carried over to another buyer."""
    files = request.FILES.copy()
    for field, entry in heldphotos.held_photos(request, buyer=_buyer(request)).items():
        if field in PHOTO_FIELDS and not files.get(field):
            files[field] = heldphotos.take(entry)
    return files


def _keep_photos_for_the_retry(request, form: RegistrationForm, files) -> None:
    """After a failed submit: keep each photo sent (new or kept) that is not itself at fault,
    so the clerk does not take it again; a photo at fault is forgotten."""
    for field in PHOTO_FIELDS:
        upload = files.get(field)
        if field in form.errors or upload is None:
            heldphotos.release(request, [field])
        elif field in request.FILES:
            heldphotos.hold(request, field, upload, buyer=_buyer(request))
        # else: the kept photo was used again and stays kept (for the same buyer).


def _register_or_explain(request, form: RegistrationForm, *, write: bool) -> Registration | None:
    """Register from a bound form, or put every fault on it (shape and rules) and return None.

    With ``write=False`` nothing is ever written: the rules are checked by
    ``registration_prepare``. When the shape is already wrong the rules are checked on the raw
    input too, so the clerk sees every fault in one round trip rather than one batch per submit.
    """
    photos = {name: form.files.get(name) for name in PHOTO_FIELDS}
    if write and form.is_valid():
        try:
            return services.registration_create(
                clerk=request.user,
                data=form.service_data(),
                source=Registration.Source.WEB,
                **photos,
            )
        except ValidationError as exc:
            form.add_service_errors(exc)
            return None
    data = form.service_data() if form.is_valid() else form.raw_service_data()
    try:
        prepared = services.registration_prepare(clerk=request.user, data=data, **photos)
    except ValidationError as exc:
        form.add_service_errors(exc, skip_fields_with_errors=True)
    else:
        form.notes = prepared.warnings
    return None


@login_required
def registration_new(request):
    """Outlet staff register a buyer. Every error is shown at its field, the input kept."""
    membership = _membership_or_403(request)
    policy = _policy_or_none()
    held = {}
    if request.method == "POST":
        files = _with_held_photos(request)
        form = RegistrationForm(request.POST, files, policy=policy)
        registration = _register_or_explain(request, form, write=True)
        if registration is not None:
            heldphotos.release(request)
            if registration.status == Registration.Status.AWAITING:
                messages.warning(
                    request,
                    _(
                        "Kept awaiting verification: the population registry cannot be reached "
                        "now. The number is not active until it confirms the buyer's data; the "
                        "receipt tells the buyer so."
                    ),
                )
            else:
                messages.success(request, _("Registered. Give the buyer the receipt."))
            for note in registration.warnings:
                if note.get("code") != "awaiting_verification":
                    messages.info(request, note.get("message", ""))
            return redirect("subscribers:receipt", pk=registration.pk)
        _keep_photos_for_the_retry(request, form, files)
        held = heldphotos.held_photos(request, buyer=_buyer(request))
        for field in held:
            # Kept: the browser need not send it again (a new one replaces it).
            form.fields[field].required = False
    else:
        # A fresh form is a new buyer: nothing kept from someone else's try.
        heldphotos.release(request)
        form = RegistrationForm(policy=policy)

    packs = starter_packs_for_user(user=request.user, status=StarterPack.Status.IN_STOCK)
    context = {
        "form": form,
        "outlet": membership.outlet,
        "policy": policy,
        "packs": [
            {"msisdn": local_msisdn(pack.msisdn), "iccid": pack.iccid or ""}
            for pack in packs.order_by("msisdn")[:PACKS_IN_PICKER]
        ],
        "held_photos": [(form[field], held[field]) for field in PHOTO_FIELDS if field in held],
    }
    return render(request, "subscribers/registration_form.html", context)


@login_required
@require_POST
def registration_validate(request):
    """The form's checks as the clerk types (app.js, on leaving a field): the same messages the
    submit would show, as JSON, and nothing written. The API's validate endpoint checks the
    shape of a whole body first; this one reports every field at once, as the form does."""
    _membership_or_403(request)
    form = RegistrationForm(request.POST, request.FILES, policy=_policy_or_none())
    _register_or_explain(request, form, write=False)
    errors = {name: [str(text) for text in texts] for name, texts in form.errors.items()}
    warnings = [] if errors else getattr(form, "notes", [])
    return JsonResponse({"valid": not errors, "errors": errors, "warnings": warnings})


# --- the receipt ------------------------------------------------------------------------------


def _receipt_context(request, registration: Registration, *, viewer, token: str) -> dict:
    shared_url = public_url(reverse("subscribers:receipt_shared", args=[token]))
    return {
        "registration": registration,
        "facts": receipts.receipt_facts(registration, viewer=viewer),
        "token": token,
        "shared_url": shared_url,
        "link_expires": receipts.receipt_token_expires(token),
        # The holder's door on the configured public address, never the request's Host.
        "holders_url": public_url(reverse("holders:start")),
    }


def _pdf_response(facts: receipts.ReceiptFacts, *, link: str) -> HttpResponse:
    response = HttpResponse(receipts.receipt_pdf(facts, link=link), content_type="application/pdf")
    response["Content-Disposition"] = (
        f'attachment; filename="receipt-{facts.registration_number}.pdf"'
    )
    return _private(response)


@login_required
def registration_receipt(request, pk):
    """The receipt the clerk prints or shares with the buyer."""
    registration = registration_read_for_user(user=request.user, pk=pk, page="receipt")
    token = receipts.receipt_token(registration)
    context = _receipt_context(request, registration, viewer=request.user, token=token)
    return _private(render(request, "subscribers/receipt.html", context))


@login_required
def registration_receipt_pdf(request, pk):
    registration = registration_read_for_user(user=request.user, pk=pk, page="receipt.pdf")
    token = receipts.receipt_token(registration)
    shared_url = public_url(reverse("subscribers:receipt_shared", args=[token]))
    facts = receipts.receipt_facts(registration, viewer=request.user)
    return _pdf_response(facts, link=shared_url)


def _shared_audit(registration: Registration, page: str) -> None:
    audit_record(
        actor="receipt-link",
        action=AuditAction.REGISTRATION_RECEIPT_LINK_VIEW,
        target=registration,
        after={"page": page},
    )


def _receipt_withdrawn(request) -> HttpResponse:
    """410: the link was genuine, but the buyer restricted or erased their data."""
    response = render(request, "subscribers/receipt_withdrawn.html", status=410)
    response["X-Robots-Tag"] = "noindex, nofollow"
    return _private(response)


def registration_receipt_shared(request, token):
    """The buyer's copy, without an account: the signed link is the permission; masked data.
    Not shown once the buyer restricted the processing of their data or asked for erasure."""
    try:
        registration = receipts.registration_for_receipt_token(token)
    except receipts.ReceiptWithdrawn:
        return _receipt_withdrawn(request)
    _shared_audit(registration, "receipt")
    context = {**_receipt_context(request, registration, viewer=None, token=token), "shared": True}
    response = render(request, "subscribers/receipt.html", context)
    response["X-Robots-Tag"] = "noindex, nofollow"
    return _private(response)


def registration_receipt_shared_pdf(request, token):
    try:
        registration = receipts.registration_for_receipt_token(token)
    except receipts.ReceiptWithdrawn:
        return _receipt_withdrawn(request)
    _shared_audit(registration, "receipt.pdf")
    shared_url = public_url(reverse("subscribers:receipt_shared", args=[token]))
    response = _pdf_response(receipts.receipt_facts(registration, viewer=None), link=shared_url)
    response["X-Robots-Tag"] = "noindex, nofollow"
    return response


# --- list and detail --------------------------------------------------------------------------


@login_required
def registration_list(request):
    """The registrations the user may see, newest first, searchable by MSISDN (08… or 62…)
    or registration number."""
    query = request.GET.get("q", "").strip()[:40]
    filters = {"q": query}
    for name in ("status", "outlet"):
        value = request.GET.get(name, "").strip()[:40]
        if value:
            filters[name] = value
    registrations = registrations_for_user(user=request.user, filters=filters)
    page = Paginator(registrations, PAGE_SIZE).get_page(request.GET.get("page"))
    for registration in page:
        registration.display_name = disclose(request.user, Kind.NAME, registration.full_name)
        registration.msisdn_local = local_msisdn(registration.msisdn)
    membership = staff_membership_for_user(user=request.user)
    context = {
        "page": page,
        "query": query,
        "filters": filters,
        "show_outlet": membership is None,
        "status_choices": Registration.Status.choices,
    }
    return render(request, "subscribers/registration_list.html", context)


def _render_detail(request, registration: Registration, *, revealed: str = "") -> HttpResponse:
    user = request.user
    # The page shows birth place, date and address only to a role that sees them in full.
    masked = not sees_every_detail(user)
    context = {
        "registration": registration,
        "masked": masked,
        "display_name": disclose(user, Kind.NAME, registration.full_name),
        "msisdn_local": local_msisdn(registration.msisdn),
        "may_see_photos": sees_in_full(user, Kind.PHOTO),
        "may_reveal": user.has_perm("subscribers.reveal_id_number"),
        "revealed_id_number": revealed,
        "photo_kinds": [
            (kind, label)
            for kind, label in (("id_photo", _("ID document")), ("face_photo", _("Face")))
            if getattr(registration, kind)
        ],
    }
    return _private(render(request, "subscribers/registration_detail.html", context))


@login_required
def registration_detail(request, pk):
    registration = registration_read_for_user(user=request.user, pk=pk, page="detail")
    return _render_detail(request, registration)


@login_required
@require_POST
def registration_reveal(request, pk):
    """Show the full ID number once, to a user holding the permission (the service audits)."""
    registration = registration_get_for_user(user=request.user, pk=pk)
    try:
        number = services.registration_reveal_id_number(
            user=request.user, registration=registration
        )
    except PermissionError as exc:
        raise PermissionDenied(_("Your role may not see full ID numbers.")) from exc
    return _render_detail(request, registration, revealed=number)


@login_required
def registration_photo(request, pk, kind):
    """A registration's photo, streamed from private storage to those allowed to see it."""
    if kind not in PHOTO_KINDS:
        raise Http404("unknown photo")
    registration = registration_get_for_user(user=request.user, pk=pk)
    if not sees_in_full(request.user, Kind.PHOTO):
        raise PermissionDenied(_("A regulator sees no photos."))
    stored = getattr(registration, kind)
    # Until the worker has stripped the metadata (GPS included) only the raw upload exists.
    if registration.photo_status != Registration.PhotoStatus.READY or not stored:
        raise Http404("photo not available")
    try:
        handle = stored.open("rb")
    except FileNotFoundError as exc:
        raise Http404("photo missing") from exc
    audit_record(
        actor=request.user,
        action=AuditAction.REGISTRATION_PHOTO_VIEW,
        target=registration,
        after={"kind": kind},
    )
    response = FileResponse(handle, content_type="image/jpeg")
    response["Content-Disposition"] = f'inline; filename="{kind}.jpg"'
    response["X-Content-Type-Options"] = "nosniff"
    return _private(response)
