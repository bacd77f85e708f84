"""The door's pages (``/nomor-saya/``): public, on a phone, Indonesian first.

The verified session's bearer token is kept in the browser's Django session (cookie), never in
a URL; each page asks ``holders.services`` for the session it still opens."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from core.clientip import client_ip
from core.publicurl import public_url
from core.roles import may_decide

from . import services
from .forms import (
    CodeForm,
    DisputeForm,
    FaceForm,
    ReverseForm,
    StartForm,
    StatementCheckForm,
)
from .models import HolderDispute
from .selectors import holder_cap, holder_disputes

SESSION_KEY, TOKEN_KEY = "holder_session", "holder_token"
MAX_STATEMENT_BYTES = 5 * 1024 * 1024


def _holder(request):
    return services.holder_session_for_token(request.session.get(TOKEN_KEY, ""))


def _throttled_answer(request, template: str, form, status: int = 429):
    form.add_error(None, _("Too many attempts. Try again in an hour, or go to a GraPARI."))
    return render(request, template, {"form": form}, status=status)


@never_cache
@require_http_methods(["GET", "POST"])
def start(request):
    form = StartForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            session = services.holder_session_start(
                **form.cleaned_data, client_ip=client_ip(request)
            )
        except services.HolderThrottled:
            return _throttled_answer(request, "holders/start.html", form)
        except ValidationError as exc:
            form.add_service_errors(exc)
        else:
            request.session[SESSION_KEY] = str(session.pk)
            request.session.pop(TOKEN_KEY, None)
            return redirect("holders:code")
    return render(request, "holders/start.html", {"form": form}, status=400 if form.errors else 200)


@never_cache
@require_http_methods(["GET", "POST"])
def code(request):
    session_id = request.session.get(SESSION_KEY)
    if not session_id:
        return redirect("holders:start")
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            token = services.holder_session_verify(
                session_id=session_id, code=form.cleaned_data["code"]
            )
        except ValidationError as exc:
            form.add_service_errors(exc)
        else:
            request.session.cycle_key()
            request.session[TOKEN_KEY] = token
            return redirect("holders:numbers")
    return render(request, "holders/code.html", {"form": form}, status=400 if form.errors else 200)


@never_cache
@require_http_methods(["GET", "POST"])
def face(request):
    form = FaceForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        try:
            _session, token = services.holder_face_start(
                id_number=form.cleaned_data["id_number"],
                image=form.cleaned_data["face_photo"].read(),
                client_ip=client_ip(request),
            )
        except services.HolderThrottled:
            return _throttled_answer(request, "holders/face.html", form)
        except ValidationError as exc:
            form.add_service_errors(exc)
        else:
            request.session.cycle_key()
            request.session[TOKEN_KEY] = token
            return redirect("holders:numbers")
    return render(request, "holders/face.html", {"form": form}, status=400 if form.errors else 200)


@never_cache
def numbers(request):
    session = _holder(request)
    if session is None:
        messages.info(request, _("Your session has ended. Verify again to see your numbers."))
        return redirect("holders:start")
    cap, chooses = holder_cap()
    numbers = services.holder_numbers_view(session=session)
    counted = [n for n in numbers if n.counts_against_cap]
    context = {
        "session": session,
        "numbers": numbers,
        "disputes": holder_disputes(session),
        "cap": cap,
        "may_choose": bool(chooses and cap is not None and len(counted) > cap),
        "counted": counted,
        "expires_at": session.token_expires_at,
    }
    return render(request, "holders/numbers.html", context)


@never_cache
@require_POST
def dispute(request):
    session = _holder(request)
    if session is None:
        return redirect("holders:start")
    form = DisputeForm(request.POST)
    if form.is_valid():
        try:
            services.holder_dispute_open(
                session=session,
                msisdn=form.cleaned_data["number"],
                note=form.cleaned_data["note"],
                answer_url=lambda token: public_url(reverse("holders:answer", args=[token])),
            )
        except services.HolderSessionEnded as exc:
            request.session.pop(TOKEN_KEY, None)
            messages.error(request, exc.message)
            return redirect("holders:start")
        except ValidationError as exc:
            for message_list in exc.message_dict.values():
                for message in message_list:
                    messages.error(request, message)
        else:
            messages.success(
                request,
                _(
                    "Reported. The number's user has been told by SMS; unless they answer, the "
                    "number is blocked when the notice period ends."
                ),
            )
    else:
        messages.error(request, _("Choose the number to report."))
    return redirect("holders:numbers")


@never_cache
@require_POST
def keep(request):
    session = _holder(request)
    if session is None:
        return redirect("holders:start")
    try:
        flagged = services.holder_keep_numbers(session=session, keep=request.POST.getlist("keep"))
    except ValidationError as exc:
        for message_list in exc.message_dict.values():
            for message in message_list:
                messages.error(request, message)
    else:
        messages.success(
            request,
            _("Saved. %(count)d numbers will be deactivated by the operator.")
            % {"count": len(flagged)},
        )
    return redirect("holders:numbers")


@never_cache
def statement(request):
    session = _holder(request)
    if session is None:
        return redirect("holders:start")
    pdf, code = services.statement_issue(session=session)
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="nomor-saya-{code}.pdf"'
    return response


@require_POST
def end(request):
    session = _holder(request)
    if session is not None:
        services.holder_session_end(session=session)
    request.session.flush()
    return redirect("holders:start")


@never_cache
@require_http_methods(["GET", "POST"])
def answer(request, token):
    """The disputed number's user: "this number is mine" (the link in the SMS)."""
    dispute = services.dispute_for_answer_token(token)
    if dispute is None:
        raise Http404
    error = ""
    if request.method == "POST":
        try:
            dispute = services.holder_dispute_answer(token=token)
        except ValidationError as exc:
            error = " ".join(exc.messages)
    return render(
        request,
        "holders/answer.html",
        {"dispute": dispute, "error": error, "answered": dispute.answered_at is not None},
    )


@never_cache
@require_http_methods(["GET", "POST"])
def statement_check(request):
    form = StatementCheckForm(request.POST or None, request.FILES or None)
    result = None
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        content = upload.read(MAX_STATEMENT_BYTES + 1)
        result = len(content) <= MAX_STATEMENT_BYTES and services.statement_matches(
            code=form.cleaned_data["code"], content=content
        )
    return render(request, "holders/statement_check.html", {"form": form, "result": result})


@login_required
@require_http_methods(["GET", "POST"])
def dispute_review(request, item_id):
    """GraPARI's view of a holder dispute (from the review queue): what was reported, where it
    stands, and the reversal of a block on evidence."""
    if not may_decide(request.user):
        raise PermissionDenied
    dispute = get_object_or_404(
        HolderDispute.objects.select_related("registration__outlet"), review_item_id=item_id
    )
    form = ReverseForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            reversed_ = services.holder_dispute_reverse(
                actor=request.user, dispute=dispute, reason=form.cleaned_data["reason"]
            )
        except ValidationError as exc:
            form.add_service_errors(exc)
        else:
            if reversed_.unblocked:
                messages.success(request, _("The block was reversed; the operator is told."))
            else:
                messages.warning(
                    request,
                    _(
                        "The dispute's block was reversed, but the number stays blocked: "
                        "GraPARI's own decision blocked it."
                    ),
                )
            return redirect("holders:dispute_review", item_id=item_id)
    return render(request, "holders/dispute_review.html", {"dispute": dispute, "form": form})
