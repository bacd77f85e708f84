"""Sanctions taken against outlets: read them; an operator admin lifts a suspension."""

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import mixins, permissions, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from core.textclean import VisibleTextSerializerMixin

from ...models import Sanction
from ..sanctions import may_lift, sanction_lift
from ..selectors import sanction_get_for_user, sanctions_for_user
from ..support import WorkflowConflict
from ._common import CONFLICT, FIELD_ERRORS, conflict_response


class SanctionSerializer(VisibleTextSerializerMixin, serializers.ModelSerializer):
    outlet_roid = serializers.CharField(source="outlet.roid")
    dealer_code = serializers.CharField(source="outlet.dealer.code")
    outlet_status = serializers.CharField(source="outlet.status")
    created_by = serializers.CharField(source="created_by_label")
    lifted_by = serializers.SerializerMethodField()
    is_active = serializers.BooleanField()

    class Meta:
        model = Sanction
        fields = [
            "id",
            "outlet_roid",
            "dealer_code",
            "outlet_status",
            "level",
            "reason",
            "violations_counted",
            "window_days",
            "status_changed",
            "created_by",
            "created_at",
            "is_active",
            "lifted_by",
            "lifted_at",
            "lift_reason",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_lifted_by(self, obj) -> str | None:
        return obj.lifted_by.get_username() if obj.lifted_by_id else None


class SanctionFilterSerializer(VisibleTextSerializerMixin, serializers.Serializer):
    outlet = serializers.CharField(required=False, max_length=20, help_text=_("Outlet ROID."))
    level = serializers.ChoiceField(choices=Sanction.Level.choices, required=False)
    active = serializers.BooleanField(required=False, allow_null=True, default=None)


class LiftInputSerializer(VisibleTextSerializerMixin, serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, max_length=4000)


class LiftsSanctions(permissions.BasePermission):
    message = _("Only operator admins lift sanctions.")

    def has_permission(self, request, view) -> bool:
        return view.action != "lift" or may_lift(request.user)


@extend_schema(tags=["sanctions"])
class SanctionViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Sanctions taken against outlets: the own outlet's for outlet staff, the dealer's outlets'
    for a dealer admin, all for the operator, GraPARI and the regulator. Operator admins lift a
    suspension (the outlet is reinstated)."""

    serializer_class = SanctionSerializer
    permission_classes = [permissions.IsAuthenticated, LiftsSanctions]
    lookup_value_regex = r"[0-9]{1,18}"

    def get_queryset(self):
        return sanctions_for_user(user=self.request.user)

    @extend_schema(parameters=[SanctionFilterSerializer])
    def list(self, request, *args, **kwargs):
        params = SanctionFilterSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        queryset = sanctions_for_user(user=request.user, filters=params.validated_data)
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    def retrieve(self, request, pk=None):
        return Response(self.get_serializer(sanction_get_for_user(user=request.user, pk=pk)).data)

    @extend_schema(
        request=LiftInputSerializer,
        responses={200: SanctionSerializer, 400: FIELD_ERRORS, 409: CONFLICT},
    )
    @action(detail=True, methods=["post"])
    def lift(self, request, pk=None):
        """Lift a suspension, with a `reason` (the outlet is reinstated and its dealer told)."""
        sanction = sanction_get_for_user(user=request.user, pk=pk)
        body = LiftInputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            sanction = sanction_lift(
                actor=request.user, sanction=sanction, reason=body.validated_data.get("reason", "")
            )
        except WorkflowConflict as exc:
            return conflict_response(exc)
        return Response(self.get_serializer(sanction).data)
