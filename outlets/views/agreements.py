"""Responsibility-transfer agreements: list, record (with the signed document), read."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db import transaction
from django.http import FileResponse, Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from .. import selectors, services
from ..forms import AgreementForm, DocumentForm
from ..models import Dealer
from ._common import manages, nav_context, private, require_dealer_admin

PAGE_SIZE = 25


def _require_agreements_scope(user) -> None:
    if not nav_context(user)["sees_agreements"]:
        raise PermissionDenied(_("Agreements are for dealers and the operator."))


@login_required
def agreement_list(request):
    user = request.user
    _require_agreements_scope(user)
    agreements = selectors.agreements_for_user(user=user)
    page = Paginator(agreements, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "outlets/agreement_list.html", {**nav_context(user), "page": page})


@login_required
def agreement_new(request):
    """A dealer admin records an agreement with a party (chosen, or new), the packs it covers,
    its period and the signed document, all at once."""
    user = request.user
    dealer = Dealer.objects.get(pk=require_dealer_admin(user))
    form = AgreementForm(
        request.POST or None,
        request.FILES or None,
        parties=selectors.parties_for_user(user=user),
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            with transaction.atomic():
                party = data["party"] or services.responsible_party_create(
                    actor=user,
                    dealer=dealer,
                    name=data["party_name"],
                    registration_number=data["party_registration_number"],
                    contact_name=data["party_contact_name"],
                    phone=data["party_phone"],
                )
                agreement = services.agreement_create(
                    actor=user,
                    dealer=dealer,
                    party=party,
                    starts_on=data["starts_on"],
                    ends_on=data["ends_on"],
                    ranges=data["spans"],
                    reference=data["reference"],
                    document=data["document"],
                )
        except ValidationError as exc:
            form.add_service_errors(exc, relabel={"name": "party_name"})
        else:
            messages.success(request, _("Agreement recorded. It is in force for its period."))
            return redirect("outlets:agreement_detail", pk=agreement.pk)
    return render(request, "outlets/agreement_form.html", {**nav_context(user), "form": form})


@login_required
def agreement_detail(request, pk):
    """An agreement's terms; its dealer's admins can (re)place the signed document here."""
    user = request.user
    agreement = selectors.agreement_get_for_user(user=user, pk=pk)
    may_replace = manages(user, agreement.dealer_id)
    form = DocumentForm(request.POST or None, request.FILES or None)
    if request.method == "POST":
        if not may_replace:
            raise PermissionDenied(_("Only the dealer's admins can do this."))
        if form.is_valid():
            try:
                services.agreement_attach_document(
                    actor=user, agreement=agreement, document=form.cleaned_data["document"]
                )
            except ValidationError as exc:
                form.add_service_errors(exc)
            else:
                messages.success(request, _("The signed document is on record."))
                return redirect("outlets:agreement_detail", pk=agreement.pk)
    context = {
        **nav_context(user),
        "agreement": agreement,
        "form": form if may_replace else None,
        "may_read_document": services.may_read_agreement_document(user, agreement),
    }
    return private(render(request, "outlets/agreement_detail.html", context))


@login_required
def agreement_document(request, pk):
    """The signed document, streamed from private storage to those allowed (audited)."""
    agreement = selectors.agreement_get_for_user(user=request.user, pk=pk)
    try:
        handle = services.agreement_document_open(actor=request.user, agreement=agreement)
    except PermissionError as exc:
        raise PermissionDenied(_("Your role may not read signed agreements.")) from exc
    except FileNotFoundError as exc:
        raise Http404("no document") from exc
    extension = agreement.document.name.rsplit(".", 1)[-1]
    response = FileResponse(handle, content_type=agreement.document_content_type)
    response["Content-Disposition"] = f'inline; filename="agreement-{agreement.pk}.{extension}"'
    response["X-Content-Type-Options"] = "nosniff"
    return private(response)
