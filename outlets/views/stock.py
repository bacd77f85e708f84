"""Starter-pack stock: overview, allocations (operator to dealer, dealer to outlet, back)."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from core.roles import require_operator

from .. import selectors, services, stockfiles
from ..forms import AllocateToDealerForm, AllocateToOutletForm, ReturnStockForm
from ..models import StarterPack
from ._common import manages, nav_context, require_outlet_scope

PAGE_SIZE = 25
MOVES_SHOWN = 200


def _summary(user) -> dict:
    packs = selectors.starter_packs_for_user(user=user).order_by()
    return packs.aggregate(
        in_stock_at_dealer=Count(
            "pk", filter=Q(status=StarterPack.Status.IN_STOCK, outlet__isnull=True)
        ),
        in_stock_at_outlets=Count(
            "pk", filter=Q(status=StarterPack.Status.IN_STOCK, outlet__isnull=False)
        ),
        registered=Count("pk", filter=Q(status=StarterPack.Status.REGISTERED)),
    )


@login_required
def stock_overview(request):
    """Stock the user may see (dealer: its own; clerk: its outlet's; operator roles: all) and
    the allocations that moved it, newest first."""
    user = request.user
    require_outlet_scope(user)
    allocations = selectors.allocations_for_user(user=user)
    page = Paginator(allocations, PAGE_SIZE).get_page(request.GET.get("page"))
    context = {**nav_context(user), "summary": _summary(user), "page": page}
    return render(request, "outlets/stock_overview.html", context)


def _allocate(request, form, call) -> object | None:
    selection = form.selection()
    if selection is None:
        return None
    try:
        return call(selection)
    except ValidationError as exc:
        form.add_service_errors(exc, relabel={"packs": selection.field})
        return None


@login_required
def stock_to_dealer(request):
    """The operator allocates new packs to a dealer: a CSV of MSISDN/ICCID, or a range."""
    user = request.user
    require_operator(user)
    form = AllocateToDealerForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        dealer = form.cleaned_data["dealer"]

        def call(selection):
            lines = selection.lines
            if selection.span is not None:
                lines = stockfiles.range_lines(selection.span)
            return services.stock_allocate_to_dealer(
                actor=user,
                dealer=dealer,
                lines=lines,
                source=selection.source,
                note=form.cleaned_data["note"],
            )

        allocation = _allocate(request, form, call)
        if allocation is not None:
            messages.success(
                request,
                _("%(count)d starter packs allocated to %(dealer)s.")
                % {"count": allocation.pack_count, "dealer": dealer.name},
            )
            return redirect("outlets:allocation_detail", pk=allocation.pk)
    return render(request, "outlets/stock_to_dealer.html", {**nav_context(user), "form": form})


@login_required
def stock_to_outlet(request):
    """The dealer allocates packs of its stock to one of its outlets."""
    user = request.user
    if not (user.is_operator or selectors.dealer_id_for_user(user=user) is not None):
        raise PermissionDenied(_("Only a dealer's admins or the operator can do this."))
    outlets = selectors.outlets_for_user(user=user)
    initial = None
    if request.GET.get("outlet", "").isdigit():
        chosen = outlets.filter(pk=request.GET["outlet"]).first()
        if chosen is not None:
            initial = {"outlet": chosen.roid if user.sees_all_outlets else chosen.pk}
    form = AllocateToOutletForm(
        request.POST or None,
        request.FILES or None,
        outlets=outlets,
        initial=initial,
        by_roid=user.sees_all_outlets,
    )
    if request.method == "POST" and form.is_valid():
        outlet = form.cleaned_data["outlet"]

        def call(selection):
            return services.stock_allocate_to_outlet(
                actor=user,
                outlet=outlet,
                lines=selection.lines,
                span=selection.span,
                source=selection.source,
                note=form.cleaned_data["note"],
            )

        allocation = _allocate(request, form, call)
        if allocation is not None:
            messages.success(
                request,
                _("%(count)d starter packs allocated to %(roid)s.")
                % {"count": allocation.pack_count, "roid": outlet.roid},
            )
            return redirect("outlets:allocation_detail", pk=allocation.pk)
    dealer_id = selectors.dealer_id_for_user(user=user)
    context = {
        **nav_context(user),
        "form": form,
        "dealer_stock": selectors.dealer_stock_on_hand(dealer_id=dealer_id)
        if dealer_id is not None
        else None,
    }
    return render(request, "outlets/stock_to_outlet.html", context)


@login_required
def stock_return(request, pk):
    """The dealer takes packs back from one of its outlets into its own stock."""
    user = request.user
    outlet = selectors.outlet_get_for_user(user=user, pk=pk)
    if not manages(user, outlet.dealer_id):
        raise PermissionDenied(_("Only the dealer's admins can do this."))
    form = ReturnStockForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        lines = None
        if form.cleaned_data["which"] == ReturnStockForm.LIST:
            parsed = stockfiles.parse_msisdn_list(form.cleaned_data["msisdns"])
            if parsed.errors:
                for message in services.line_messages(parsed.errors):
                    form.add_error("msisdns", message)
            lines = parsed.lines
        else:
            # Every pack: only once the dealer has confirmed the count they were shown (and
            # shown it again if the stock changed in between).
            count = selectors.outlet_stock_count(outlet=outlet)
            if count and form.cleaned_data.get("confirm_count") != count:
                return render(
                    request,
                    "outlets/stock_return_confirm.html",
                    {**nav_context(user), "outlet": outlet, "count": count},
                )
        if not form.errors:
            try:
                allocation = services.stock_return_to_dealer(
                    actor=user, outlet=outlet, lines=lines, source="list" if lines else "all"
                )
            except ValidationError as exc:
                form.add_service_errors(exc, relabel={"packs": "msisdns"})
            else:
                if allocation is None:
                    messages.info(request, _("The outlet holds no starter pack in stock."))
                    return redirect("outlets:detail", pk=outlet.pk)
                messages.success(
                    request,
                    _("%(count)d starter packs taken back from %(roid)s.")
                    % {"count": allocation.pack_count, "roid": outlet.roid},
                )
                return redirect("outlets:allocation_detail", pk=allocation.pk)
    return render(
        request,
        "outlets/stock_return.html",
        {**nav_context(user), "outlet": outlet, "form": form},
    )


@login_required
def allocation_detail(request, pk):
    """One allocation: who, when, from, to, and its packs."""
    user = request.user
    allocation = selectors.allocation_get_for_user(user=user, pk=pk)
    moves = selectors.stock_moves_for_user(user=user, allocation_id=allocation.pk)
    context = {
        **nav_context(user),
        "allocation": allocation,
        "moves": moves[:MOVES_SHOWN],
        "more": max(0, allocation.pack_count - MOVES_SHOWN),
    }
    return render(request, "outlets/allocation_detail.html", context)
