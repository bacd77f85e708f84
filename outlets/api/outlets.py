"""API of the outlets themselves: the outlets and the starter-pack stock a caller may see, the
outlet's status actions (operator, GraPARI), outlet applications and the dashboard.

Each list comes from the same user-scoped selector as the pages, so another dealer's outlet or
another outlet's stock is simply absent, and its detail a 404.
"""

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from core.roles import is_operator
from core.textclean import VisibleTextSerializerMixin

from .. import selectors, services
from ..models import Outlet, OutletApplication, StarterPack
from ..regions import PROVINCE_CHOICES, PROVINCES
from ..selectors import outlets_for_user, starter_packs_for_user
from ._common import (
    FIELD_ERRORS,
    ActionAllowed,
    DealerSummarySerializer,
    is_dealer_admin,
    may_sanction,
)


class OutletSerializer(VisibleTextSerializerMixin, serializers.ModelSerializer):
    dealer = DealerSummarySerializer(read_only=True)
    province_name = serializers.SerializerMethodField()

    class Meta:
        model = Outlet
        fields = ["id", "roid", "name", "status", "dealer", "region", "province", "province_name"]
        read_only_fields = fields

    def get_province_name(self, outlet: Outlet) -> str:
        return PROVINCES.get(outlet.province, "")


class OutletFilterSerializer(VisibleTextSerializerMixin, serializers.Serializer):
    status = serializers.ChoiceField(
        choices=Outlet.Status.choices, required=False, allow_blank=True
    )


class StarterPackSerializer(VisibleTextSerializerMixin, serializers.ModelSerializer):
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


class StarterPackFilterSerializer(VisibleTextSerializerMixin, serializers.Serializer):
    status = serializers.ChoiceField(
        choices=StarterPack.Status.choices, required=False, allow_blank=True
    )


def _filters(serializer_class, request) -> dict:
    params = serializer_class(data=request.query_params)
    params.is_valid(raise_exception=True)
    return params.validated_data


class OutletStatusSerializer(VisibleTextSerializerMixin, serializers.ModelSerializer):
    class Meta:
        model = Outlet
        fields = ["id", "roid", "status", "status_reason"]
        read_only_fields = fields


class ReasonSerializer(VisibleTextSerializerMixin, serializers.Serializer):
    reason = serializers.CharField(max_length=300, help_text=_("Why; the dealer sees it."))


STATUS_ACTION = extend_schema(
    request=ReasonSerializer, responses={200: OutletStatusSerializer, 400: FIELD_ERRORS}
)


@extend_schema(tags=["outlets"])
class OutletViewSet(viewsets.ReadOnlyModelViewSet):
    """Outlets the caller may see: all for the operator, GraPARI and the regulator; the dealer's
    own for a dealer admin; the clerk's own outlet for outlet staff.

    ``suspend``, ``reinstate`` and ``revoke`` (operator and GraPARI) change its status with a
    reason, which the dealer is told."""

    serializer_class = OutletSerializer
    lookup_value_regex = r"[0-9]{1,18}"
    permission_classes = [ActionAllowed]
    allowed_for = {"suspend": may_sanction, "reinstate": may_sanction, "revoke": may_sanction}

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

    def _change_status(self, request, service):
        outlet = self.get_object()
        body = ReasonSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        service(actor=request.user, outlet=outlet, reason=body.validated_data["reason"])
        return Response(OutletStatusSerializer(outlet).data)

    @STATUS_ACTION
    @action(detail=True, methods=["post"])
    def suspend(self, request, pk=None):
        """Suspend an active outlet: its staff cannot register until it is reinstated."""
        return self._change_status(request, services.outlet_suspend)

    @STATUS_ACTION
    @action(detail=True, methods=["post"])
    def reinstate(self, request, pk=None):
        """Reinstate a suspended outlet."""
        return self._change_status(request, services.outlet_reinstate)

    @STATUS_ACTION
    @action(detail=True, methods=["post"])
    def revoke(self, request, pk=None):
        """Revoke an outlet for good (its ROID is never issued again; its stock returns to the
        dealer)."""
        return self._change_status(request, services.outlet_revoke)


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


# --- applications ------------------------------------------------------------------------------


class OutletApplicationSerializer(VisibleTextSerializerMixin, serializers.ModelSerializer):
    dealer = DealerSummarySerializer(read_only=True)
    roid = serializers.CharField(
        source="outlet.roid",
        read_only=True,
        allow_null=True,
        help_text=_("The ROID issued on approval; null before."),
    )

    class Meta:
        model = OutletApplication
        fields = [
            "id",
            "dealer",
            "name",
            "owner_name",
            "owner_phone",
            "owner_id_number_masked",
            "address",
            "region",
            "province",
            "staff_note",
            "status",
            "submitted_at",
            "decided_at",
            "decision_reason",
            "outlet",
            "roid",
        ]
        read_only_fields = fields


class OutletApplicationInputSerializer(VisibleTextSerializerMixin, serializers.Serializer):
    name = serializers.CharField(max_length=150)
    owner_name = serializers.CharField(max_length=150)
    owner_phone = serializers.CharField(max_length=20, required=False, allow_blank=True)
    owner_id_number = serializers.CharField(
        max_length=40, help_text=_("The owner's NIK (kept encrypted; end-user-only rule).")
    )
    owner_kk_number = serializers.CharField(max_length=40, required=False, allow_blank=True)
    address = serializers.CharField(max_length=300)
    region = serializers.CharField(max_length=100)
    province = serializers.ChoiceField(choices=PROVINCE_CHOICES)
    staff_note = serializers.CharField(
        max_length=1000,
        required=False,
        allow_blank=True,
        help_text=_("Who will register buyers there: names, one per line."),
    )


class DecisionNoteSerializer(VisibleTextSerializerMixin, serializers.Serializer):
    note = serializers.CharField(max_length=300, required=False, allow_blank=True)


class ApplicationFilterSerializer(VisibleTextSerializerMixin, serializers.Serializer):
    status = serializers.ChoiceField(
        choices=OutletApplication.Status.choices, required=False, allow_blank=True
    )


@extend_schema(tags=["outlet-applications"])
class OutletApplicationViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """Applications for new outlets: a dealer admin applies (``POST``) and sees its own; the
    operator sees all and approves (a ROID is issued) or rejects them. Others see none."""

    serializer_class = OutletApplicationSerializer
    lookup_value_regex = r"[0-9]{1,18}"
    permission_classes = [ActionAllowed]
    allowed_for = {"create": is_dealer_admin, "approve": is_operator, "reject": is_operator}

    def get_queryset(self):
        return selectors.applications_for_user(user=self.request.user)

    @extend_schema(parameters=[ApplicationFilterSerializer])
    def list(self, request, *args, **kwargs):
        params = _filters(ApplicationFilterSerializer, request)
        queryset = selectors.applications_for_user(
            user=request.user, status=params.get("status") or None
        )
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    @extend_schema(
        request=OutletApplicationInputSerializer,
        responses={201: OutletApplicationSerializer, 400: FIELD_ERRORS},
    )
    def create(self, request):
        """Apply for a new outlet of the caller's dealer."""
        body = OutletApplicationInputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        application = services.outlet_application_submit(actor=request.user, **body.validated_data)
        return Response(self.get_serializer(application).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        request=DecisionNoteSerializer,
        responses={200: OutletApplicationSerializer, 400: FIELD_ERRORS},
    )
    @action(detail=True, methods=["post"])
    def approve(self, request, pk=None):
        """Approve a pending application: the outlet is created with a new ROID."""
        application = self.get_object()
        body = DecisionNoteSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        services.outlet_application_approve(
            actor=request.user, application=application, note=body.validated_data.get("note", "")
        )
        return Response(self.get_serializer(application).data)

    @extend_schema(
        request=ReasonSerializer, responses={200: OutletApplicationSerializer, 400: FIELD_ERRORS}
    )
    @action(detail=True, methods=["post"])
    def reject(self, request, pk=None):
        """Reject a pending application, saying why."""
        application = self.get_object()
        body = ReasonSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        services.outlet_application_reject(
            actor=request.user, application=application, reason=body.validated_data["reason"]
        )
        return Response(self.get_serializer(application).data)


# --- dashboard ---------------------------------------------------------------------------------


class DashboardRowSerializer(VisibleTextSerializerMixin, serializers.ModelSerializer):
    dealer = serializers.CharField(source="dealer.code", read_only=True)
    registrations = serializers.IntegerField(source="registration_count", read_only=True)
    registrations_recent = serializers.IntegerField(
        source="recent_registration_count",
        read_only=True,
        help_text=_("Registrations in the last 30 days."),
    )
    open_clarifications = serializers.IntegerField(read_only=True)
    confirmed_violations = serializers.IntegerField(read_only=True)
    trained = serializers.BooleanField(
        read_only=True, help_text=_("At least one active staff member attended a training.")
    )
    active_staff = serializers.IntegerField(read_only=True)
    stock_on_hand = serializers.IntegerField(read_only=True)

    class Meta:
        model = Outlet
        fields = [
            "id",
            "roid",
            "name",
            "dealer",
            "region",
            "status",
            "registrations",
            "registrations_recent",
            "open_clarifications",
            "confirmed_violations",
            "trained",
            "active_staff",
            "stock_on_hand",
        ]
        read_only_fields = fields


class DashboardFilterSerializer(VisibleTextSerializerMixin, serializers.Serializer):
    sort = serializers.ChoiceField(
        choices=[key for key, _label in selectors.sort_choices()],
        required=False,
        help_text=_("A column, with a leading - for descending."),
    )
    dealer = serializers.CharField(
        max_length=20, required=False, help_text=_("Dealer code (operator roles).")
    )
    status = serializers.ChoiceField(choices=Outlet.Status.choices, required=False)
    trained = serializers.BooleanField(required=False, allow_null=True, default=None)


@extend_schema(tags=["outlets"])
class OutletDashboardViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """The dealer dashboard, per outlet the caller may see: registrations, open
    clarifications, confirmed violations, sanction status, training status, stock on hand."""

    serializer_class = DashboardRowSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation: no real user
            return Outlet.objects.none()
        return selectors.outlet_dashboard_for_user(user=self.request.user)

    @extend_schema(parameters=[DashboardFilterSerializer])
    def list(self, request, *args, **kwargs):
        params = _filters(DashboardFilterSerializer, request)
        queryset = selectors.outlet_dashboard_for_user(
            user=request.user,
            sort=params.get("sort") or selectors.DEFAULT_SORT,
            dealer_code=params.get("dealer", "") if request.user.sees_all_outlets else "",
            status=params.get("status", ""),
            trained=params.get("trained"),
        )
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(self.get_serializer(page, many=True).data)
