"""API of outlet staff: the dealer invites and removes clerks."""

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from core.textclean import VisibleTextSerializerMixin

from .. import selectors, services
from ..invitations import invitation_path, is_pending
from ..models import OutletStaff
from ..services._common import require_manages_dealer
from ._common import (
    FIELD_ERRORS,
    ActionAllowed,
    IdField,
    OutletRefSerializer,
    is_dealer_or_operator,
)


class StaffSerializer(VisibleTextSerializerMixin, serializers.ModelSerializer):
    username = serializers.CharField(source="user.username", read_only=True)
    full_name = serializers.CharField(source="user.first_name", read_only=True)
    outlet = OutletRefSerializer(read_only=True)
    invitation_pending = serializers.SerializerMethodField(
        help_text=_("Invited; the clerk has not chosen a password yet.")
    )

    class Meta:
        model = OutletStaff
        fields = [
            "id",
            "username",
            "full_name",
            "outlet",
            "is_active",
            "invitation_pending",
            "joined_at",
            "removed_at",
        ]
        read_only_fields = fields

    def get_invitation_pending(self, membership) -> bool:
        return membership.is_active and is_pending(membership.user)


class InvitedStaffSerializer(StaffSerializer):
    invitation_url = serializers.SerializerMethodField(
        help_text=_("Give it to the clerk: it lets them choose a password, once, for 3 days.")
    )

    class Meta(StaffSerializer.Meta):
        fields = [*StaffSerializer.Meta.fields, "invitation_url"]
        read_only_fields = fields

    def get_invitation_url(self, membership) -> str:
        return self.context["request"].build_absolute_uri(invitation_path(membership.user))


class StaffInviteSerializer(VisibleTextSerializerMixin, serializers.Serializer):
    outlet = IdField(help_text=_("The outlet's id."))
    username = serializers.CharField(max_length=150)
    full_name = serializers.CharField(max_length=100)
    id_number = serializers.CharField(max_length=40, help_text=_("The clerk's 16-digit NIK."))
    kk_number = serializers.CharField(max_length=40, help_text=_("The clerk's KK number."))
    email = serializers.EmailField(required=False, allow_blank=True)


class RemoveSerializer(VisibleTextSerializerMixin, serializers.Serializer):
    reason = serializers.CharField(max_length=300, required=False, allow_blank=True)


class StaffFilterSerializer(VisibleTextSerializerMixin, serializers.Serializer):
    outlet = IdField(required=False)
    active = serializers.BooleanField(required=False, allow_null=True, default=None)


@extend_schema(tags=["outlet-staff"])
class OutletStaffViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Outlet staff: the dealer's outlets' for a dealer admin, all for the operator and GraPARI,
    themselves for a clerk. A dealer admin (or the operator) invites (``POST``: the answer holds
    the invitation link) and removes clerks; a removed clerk can no longer log in to the
    outlet. The clerks' own ID numbers are kept encrypted and never shown."""

    serializer_class = StaffSerializer
    lookup_value_regex = r"[0-9]{1,18}"
    permission_classes = [ActionAllowed]
    allowed_for = {
        "create": is_dealer_or_operator,
        "remove": is_dealer_or_operator,
        "invitation": is_dealer_or_operator,
    }

    def get_queryset(self):
        return selectors.staff_for_user(user=self.request.user)

    @extend_schema(parameters=[StaffFilterSerializer])
    def list(self, request, *args, **kwargs):
        params = StaffFilterSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        queryset = selectors.staff_for_user(
            user=request.user, active=params.validated_data.get("active")
        )
        if params.validated_data.get("outlet"):
            queryset = queryset.filter(outlet_id=params.validated_data["outlet"])
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    @extend_schema(
        request=StaffInviteSerializer, responses={201: InvitedStaffSerializer, 400: FIELD_ERRORS}
    )
    def create(self, request):
        """Invite a clerk to an outlet of the caller's dealer."""
        body = StaffInviteSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = dict(body.validated_data)
        outlet = selectors.outlets_for_user(user=request.user).filter(pk=data.pop("outlet")).first()
        if outlet is None:
            raise serializers.ValidationError({"outlet": [_("Unknown outlet.")]})
        membership = services.outlet_staff_invite(actor=request.user, outlet=outlet, **data)
        answer = InvitedStaffSerializer(membership, context=self.get_serializer_context())
        return Response(answer.data, status=status.HTTP_201_CREATED)

    @extend_schema(request=RemoveSerializer, responses={200: StaffSerializer, 400: FIELD_ERRORS})
    @action(detail=True, methods=["post"])
    def remove(self, request, pk=None):
        """Remove a clerk: the membership ends, and their account is deactivated unless it has
        another role."""
        membership = self.get_object()
        body = RemoveSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        services.outlet_staff_remove(
            actor=request.user, membership=membership, reason=body.validated_data.get("reason", "")
        )
        return Response(self.get_serializer(membership).data)

    @extend_schema(request=None, responses={200: InvitedStaffSerializer, 400: FIELD_ERRORS})
    @action(detail=True, methods=["post"])
    def invitation(self, request, pk=None):
        """A fresh invitation link for a clerk who has not chosen a password yet."""
        membership = self.get_object()
        require_manages_dealer(request.user, membership.outlet.dealer_id)
        if not (membership.is_active and is_pending(membership.user)):
            raise serializers.ValidationError(
                {"non_field_errors": [_("This clerk has already chosen a password.")]}
            )
        answer = InvitedStaffSerializer(membership, context=self.get_serializer_context())
        return Response(answer.data)
