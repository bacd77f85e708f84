"""API of starter-pack stock movements: allocations and the moves they recorded.

``POST stock-allocations/to-dealer/`` (operator), ``/to-outlet/`` (dealer), ``/to-dealer-stock/``
(dealer): JSON with a list of packs or a range, or multipart with a CSV ``file``. Any fault
refuses the whole request, each fault at its line (the item's position in a JSON list).
"""

from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from core.roles import is_operator
from core.textclean import VisibleTextSerializerMixin
from identity.idrules import IdRuleError, normalize_msisdn

from .. import selectors, services, stockfiles
from ..models import Dealer, StockAllocation, StockMove
from ..services.stock import range_message
from ._common import (
    FIELD_ERRORS,
    ActionAllowed,
    DealerSummarySerializer,
    IdField,
    OutletRefSerializer,
    is_dealer_or_operator,
    relabel,
)

JSON_MAX_PACKS = 50_000
CSV_MAX_BYTES = 16 * 1024 * 1024


class AllocationSerializer(VisibleTextSerializerMixin, serializers.ModelSerializer):
    dealer = DealerSummarySerializer(read_only=True)
    outlet = OutletRefSerializer(read_only=True, allow_null=True)
    actor = serializers.CharField(source="actor_label", read_only=True)

    class Meta:
        model = StockAllocation
        fields = [
            "id",
            "kind",
            "dealer",
            "outlet",
            "actor",
            "created_at",
            "pack_count",
            "source",
            "note",
        ]
        read_only_fields = fields


class PackItemSerializer(VisibleTextSerializerMixin, serializers.Serializer):
    msisdn = serializers.CharField(max_length=24)
    iccid = serializers.CharField(max_length=24, required=False, allow_blank=True)


class _SelectionSerializer(VisibleTextSerializerMixin, serializers.Serializer):
    """Packs given one way: a list, a range (``msisdn_from``/``msisdn_to``), or a CSV file."""

    msisdn_from = serializers.CharField(max_length=24, required=False)
    msisdn_to = serializers.CharField(max_length=24, required=False)
    note = serializers.CharField(max_length=300, required=False, allow_blank=True)

    list_field = "packs"

    def validate(self, data):
        given = [name for name in (self.list_field, "file", "msisdn_from") if data.get(name)]
        if data.get("msisdn_to") and "msisdn_from" not in given:
            raise serializers.ValidationError({"msisdn_from": [_("Give the first number.")]})
        if len(given) != 1:
            raise serializers.ValidationError(
                _("Give the packs one way: a list, a range or a CSV file.")
            )
        if given == ["msisdn_from"] and not data.get("msisdn_to"):
            raise serializers.ValidationError({"msisdn_to": [_("Give the last number.")]})
        return data


def _selection(data, *, with_iccid: bool, list_field: str):
    """(lines, span, source, field) from a checked body; ValidationError on faulty lines."""
    if data.get("file"):
        upload = data["file"]
        if upload.size > CSV_MAX_BYTES:
            raise serializers.ValidationError({"file": [_("The file is too large (16 MB).")]})
        parsed = stockfiles.parse_pack_csv(upload.read(), with_iccid=with_iccid)
        field, source = "file", f"file {upload.name}"[:200]
    elif data.get(list_field):
        rows = [
            (i, item["msisdn"], item.get("iccid", "") if with_iccid else "")
            if isinstance(item, dict)
            else (i, item, "")
            for i, item in enumerate(data[list_field], start=1)
        ]
        parsed = stockfiles.check_pack_lines(rows)
        field, source = list_field, "api list"
    else:
        try:
            span = stockfiles.parse_range(data["msisdn_from"], data["msisdn_to"])
        except stockfiles.RangeError as exc:
            raise serializers.ValidationError(
                {exc.field: [range_message(exc.code, **exc.params)]}
            ) from exc
        return None, span, f"range {span.first}–{span.last}", "msisdn_to"
    if parsed.errors:
        raise serializers.ValidationError({field: services.line_messages(parsed.errors)})
    return parsed.lines, None, source, field


class ToDealerSerializer(_SelectionSerializer):
    dealer = serializers.SlugRelatedField(
        slug_field="code", queryset=Dealer.objects.filter(is_active=True)
    )
    packs = serializers.ListField(
        child=PackItemSerializer(), required=False, max_length=JSON_MAX_PACKS
    )


class ToDealerFileSerializer(ToDealerSerializer):
    file = serializers.FileField(required=False, help_text=_("CSV: msisdn, iccid"))


class ToOutletSerializer(_SelectionSerializer):
    list_field = "msisdns"

    outlet = IdField(help_text=_("The outlet's id."))
    msisdns = serializers.ListField(
        child=serializers.CharField(max_length=24), required=False, max_length=JSON_MAX_PACKS
    )


class ToOutletFileSerializer(ToOutletSerializer):
    file = serializers.FileField(required=False, help_text=_("CSV with an msisdn column."))


class ReturnSerializer(VisibleTextSerializerMixin, serializers.Serializer):
    outlet = IdField(help_text=_("The outlet's id."))
    msisdns = serializers.ListField(
        child=serializers.CharField(max_length=24),
        required=False,
        max_length=JSON_MAX_PACKS,
        help_text=_("The packs to take back; leave out to take back every pack in stock."),
    )
    note = serializers.CharField(max_length=300, required=False, allow_blank=True)


class AllocationFilterSerializer(VisibleTextSerializerMixin, serializers.Serializer):
    kind = serializers.ChoiceField(choices=StockAllocation.Kind.choices, required=False)


def _scoped_outlet(request, outlet_id):
    outlet = selectors.outlets_for_user(user=request.user).filter(pk=outlet_id).first()
    if outlet is None:
        raise serializers.ValidationError({"outlet": [_("Unknown outlet.")]})
    return outlet


def _call(service, field: str, **kwargs):
    try:
        return service(**kwargs)
    except DjangoValidationError as exc:
        raise relabel(exc, {"packs": field}) from exc


BODIES_TO_DEALER = {
    "application/json": ToDealerSerializer,
    "multipart/form-data": ToDealerFileSerializer,
}
BODIES_TO_OUTLET = {
    "application/json": ToOutletSerializer,
    "multipart/form-data": ToOutletFileSerializer,
}


@extend_schema(tags=["stock"])
class StockAllocationViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """Allocations of starter packs the caller may see: all for operator roles, the dealer's for
    a dealer admin, those to or from the clerk's outlet for outlet staff."""

    serializer_class = AllocationSerializer
    lookup_value_regex = r"[0-9]{1,18}"
    permission_classes = [ActionAllowed]
    allowed_for = {
        "to_dealer": is_operator,
        "to_outlet": is_dealer_or_operator,
        "to_dealer_stock": is_dealer_or_operator,
    }

    def get_queryset(self):
        return selectors.allocations_for_user(user=self.request.user)

    @extend_schema(parameters=[AllocationFilterSerializer])
    def list(self, request, *args, **kwargs):
        params = AllocationFilterSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        queryset = selectors.allocations_for_user(
            user=request.user, kind=params.validated_data.get("kind")
        )
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    @extend_schema(
        request=BODIES_TO_DEALER, responses={201: AllocationSerializer, 400: FIELD_ERRORS}
    )
    @action(detail=False, methods=["post"], url_path="to-dealer")
    def to_dealer(self, request):
        """The operator allocates new starter packs to a dealer (``packs``: MSISDN and ICCID; a
        range, whose ICCIDs are unknown; or a CSV ``file``)."""
        body = ToDealerFileSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        lines, span, source, field = _selection(
            body.validated_data, with_iccid=True, list_field="packs"
        )
        if span is not None:
            lines = stockfiles.range_lines(span)
        allocation = _call(
            services.stock_allocate_to_dealer,
            field,
            actor=request.user,
            dealer=body.validated_data["dealer"],
            lines=lines,
            source=source,
            note=body.validated_data.get("note", ""),
        )
        return Response(self.get_serializer(allocation).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        request=BODIES_TO_OUTLET, responses={201: AllocationSerializer, 400: FIELD_ERRORS}
    )
    @action(detail=False, methods=["post"], url_path="to-outlet")
    def to_outlet(self, request):
        """A dealer admin allocates packs of its own stock to one of its outlets."""
        body = ToOutletFileSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        outlet = _scoped_outlet(request, body.validated_data["outlet"])
        lines, span, source, field = _selection(
            body.validated_data, with_iccid=False, list_field="msisdns"
        )
        allocation = _call(
            services.stock_allocate_to_outlet,
            field,
            actor=request.user,
            outlet=outlet,
            lines=lines,
            span=span,
            source=source,
            note=body.validated_data.get("note", ""),
        )
        return Response(self.get_serializer(allocation).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        request=ReturnSerializer,
        responses={201: AllocationSerializer, 204: None, 400: FIELD_ERRORS},
    )
    @action(detail=False, methods=["post"], url_path="to-dealer-stock")
    def to_dealer_stock(self, request):
        """A dealer admin takes packs back from an outlet into its own stock (all of its
        stock when ``msisdns`` is left out; 204 when it held none)."""
        body = ReturnSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        outlet = _scoped_outlet(request, body.validated_data["outlet"])
        msisdns = body.validated_data.get("msisdns")
        lines = None
        if msisdns is not None:
            parsed = stockfiles.check_pack_lines([(i, m, "") for i, m in enumerate(msisdns, 1)])
            if parsed.errors:
                raise serializers.ValidationError(
                    {"msisdns": services.line_messages(parsed.errors)}
                )
            lines = parsed.lines
        allocation = _call(
            services.stock_return_to_dealer,
            "msisdns",
            actor=request.user,
            outlet=outlet,
            lines=lines,
            source="api list" if lines else "all",
            note=body.validated_data.get("note", ""),
        )
        if allocation is None:
            return Response(status=status.HTTP_204_NO_CONTENT)
        return Response(self.get_serializer(allocation).data, status=status.HTTP_201_CREATED)


class StockMoveSerializer(VisibleTextSerializerMixin, serializers.ModelSerializer):
    allocation = serializers.IntegerField(source="allocation_id", read_only=True)
    kind = serializers.CharField(source="allocation.kind", read_only=True)
    msisdn = serializers.CharField(source="pack.msisdn", read_only=True)
    iccid = serializers.CharField(source="pack.iccid", read_only=True, allow_null=True)
    from_dealer = serializers.CharField(
        source="from_dealer.code",
        read_only=True,
        allow_null=True,
        help_text=_("Null: the operator."),
    )
    from_outlet = serializers.CharField(source="from_outlet.roid", read_only=True, allow_null=True)
    to_dealer = serializers.CharField(source="to_dealer.code", read_only=True)
    to_outlet = serializers.CharField(source="to_outlet.roid", read_only=True, allow_null=True)
    actor = serializers.CharField(source="allocation.actor_label", read_only=True)
    at = serializers.DateTimeField(source="allocation.created_at", read_only=True)

    class Meta:
        model = StockMove
        fields = [
            "id",
            "allocation",
            "kind",
            "msisdn",
            "iccid",
            "from_dealer",
            "from_outlet",
            "to_dealer",
            "to_outlet",
            "actor",
            "at",
        ]
        read_only_fields = fields


class MoveFilterSerializer(VisibleTextSerializerMixin, serializers.Serializer):
    msisdn = serializers.CharField(max_length=24, required=False, help_text=_("One pack's moves."))
    allocation = IdField(required=False)

    def validate_msisdn(self, value):
        try:
            return normalize_msisdn(value)
        except IdRuleError as exc:
            raise serializers.ValidationError(range_message("msisdn_format")) from exc


@extend_schema(tags=["stock"])
class StockMoveViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """Every move of the allocations the caller may see (who, when, from, to); ``msisdn``
    gives one pack's history."""

    serializer_class = StockMoveSerializer

    def get_queryset(self):
        return selectors.stock_moves_for_user(user=self.request.user)

    @extend_schema(parameters=[MoveFilterSerializer])
    def list(self, request, *args, **kwargs):
        params = MoveFilterSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        queryset = selectors.stock_moves_for_user(
            user=request.user,
            msisdn=params.validated_data.get("msisdn"),
            allocation_id=params.validated_data.get("allocation"),
        )
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(self.get_serializer(page, many=True).data)
