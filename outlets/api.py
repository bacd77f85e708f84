"""API of the outlets app: the outlets and the starter-pack stock a caller may see.

Read-only. Each list comes from the same user-scoped selector as the pages, so another dealer's
outlet or another outlet's stock is simply absent, and its detail a 404.
"""

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, viewsets

from .models import Dealer, Outlet, StarterPack
from .regions import PROVINCES
from .selectors import outlets_for_user, starter_packs_for_user


class DealerSummarySerializer(serializers.ModelSerializer):
    class Meta:
        model = Dealer
        fields = ["code", "name"]
        read_only_fields = fields


class OutletSerializer(serializers.ModelSerializer):
    dealer = DealerSummarySerializer(read_only=True)
    province_name = serializers.SerializerMethodField()

    class Meta:
        model = Outlet
        fields = ["id", "roid", "name", "status", "dealer", "region", "province", "province_name"]
        read_only_fields = fields

    def get_province_name(self, outlet: Outlet) -> str:
        return PROVINCES.get(outlet.province, "")


class OutletFilterSerializer(serializers.Serializer):
    status = serializers.ChoiceField(
        choices=Outlet.Status.choices, required=False, allow_blank=True
    )


class StarterPackSerializer(serializers.ModelSerializer):
    outlet_roid = serializers.CharField(
        source="outlet.roid",
        read_only=True,
        allow_null=True,
        help_text=_("Null while the pack is still in the dealer's stock."),
    )

    class Meta:
        model = StarterPack
        fields = ["msisdn", "iccid", "status", "outlet_roid"]
        read_only_fields = fields


class StarterPackFilterSerializer(serializers.Serializer):
    status = serializers.ChoiceField(
        choices=StarterPack.Status.choices, required=False, allow_blank=True
    )


def _filters(serializer_class, request) -> dict:
    params = serializer_class(data=request.query_params)
    params.is_valid(raise_exception=True)
    return params.validated_data


@extend_schema(tags=["outlets"])
class OutletViewSet(viewsets.ReadOnlyModelViewSet):
    """Outlets the caller may see: all for the operator, GraPARI and the regulator; the dealer's
    own for a dealer admin; the clerk's own outlet for outlet staff."""

    serializer_class = OutletSerializer
    lookup_value_regex = r"[0-9]{1,18}"

    def get_queryset(self):
        return outlets_for_user(user=self.request.user)

    @extend_schema(parameters=[OutletFilterSerializer])
    def list(self, request, *args, **kwargs):
        queryset = self.get_queryset()
        status = _filters(OutletFilterSerializer, request).get("status")
        if status:
            queryset = queryset.filter(status=status)
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(self.get_serializer(page, many=True).data)


@extend_schema(tags=["starter-packs"])
class StarterPackViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """Starter packs the caller may see: the clerk's outlet's stock (``?status=in_stock`` for
    the packs still to sell), the dealer's stock for a dealer admin, all for operator roles."""

    serializer_class = StarterPackSerializer

    def get_queryset(self):
        return starter_packs_for_user(user=self.request.user)

    @extend_schema(parameters=[StarterPackFilterSerializer])
    def list(self, request, *args, **kwargs):
        status = _filters(StarterPackFilterSerializer, request).get("status")
        queryset = starter_packs_for_user(user=request.user, status=status)
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(self.get_serializer(page, many=True).data)
