"""API of training sessions and attendance."""

from django.contrib.auth import get_user_model
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from core.textclean import VisibleTextSerializerMixin

from .. import selectors, services
from ..models import Attendance, TrainingSession
from ._common import FIELD_ERRORS, ActionAllowed, is_dealer_or_operator


class TrainingSessionSerializer(VisibleTextSerializerMixin, serializers.ModelSerializer):
    dealer = serializers.CharField(
        source="dealer.code",
        read_only=True,
        allow_null=True,
        help_text=_("The organising dealer; null for the operator's sessions."),
    )

    class Meta:
        model = TrainingSession
        fields = ["id", "held_on", "trainer", "audience", "topic", "location", "dealer"]
        read_only_fields = ["id", "dealer"]
        extra_kwargs = {"location": {"required": False}}


class AttendanceSerializer(VisibleTextSerializerMixin, serializers.ModelSerializer):
    username = serializers.CharField(source="user.username", read_only=True)
    full_name = serializers.CharField(source="user.first_name", read_only=True)

    class Meta:
        model = Attendance
        fields = ["username", "full_name", "recorded_at"]
        read_only_fields = fields


class AttendanceInputSerializer(VisibleTextSerializerMixin, serializers.Serializer):
    users = serializers.ListField(
        child=serializers.CharField(max_length=150),
        min_length=1,
        max_length=500,
        help_text=_("Usernames of those who attended."),
    )


class AttendanceResultSerializer(VisibleTextSerializerMixin, serializers.Serializer):
    added = serializers.IntegerField(help_text=_("Attendances newly recorded."))


@extend_schema(tags=["training"])
class TrainingSessionViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """Training sessions: all for operator roles; a dealer's own and the operator's for a
    dealer admin; those they attended for a clerk. Dealers and the operator record sessions
    and who attended."""

    serializer_class = TrainingSessionSerializer
    lookup_value_regex = r"[0-9]{1,18}"
    permission_classes = [ActionAllowed]
    allowed_for = {"create": is_dealer_or_operator, "record_attendance": is_dealer_or_operator}

    def get_queryset(self):
        return selectors.training_sessions_for_user(user=self.request.user)

    @extend_schema(responses={201: TrainingSessionSerializer, 400: FIELD_ERRORS})
    def create(self, request):
        body = TrainingSessionSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        session = services.training_session_create(actor=request.user, **body.validated_data)
        return Response(self.get_serializer(session).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses={200: AttendanceSerializer(many=True)})
    @action(detail=True, methods=["get"], pagination_class=None)
    def attendance(self, request, pk=None):
        """Who attended, as far as the caller may know (a dealer: its own people)."""
        session = self.get_object()
        attendances = selectors.attendances_for_user(user=request.user, session=session)
        return Response(AttendanceSerializer(attendances, many=True).data)

    @extend_schema(
        request=AttendanceInputSerializer,
        responses={200: AttendanceResultSerializer, 400: FIELD_ERRORS},
    )
    @attendance.mapping.post
    def record_attendance(self, request, pk=None):
        """Record who attended (the caller's own staff, for a dealer); idempotent."""
        session = self.get_object()
        body = AttendanceInputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        names = set(body.validated_data["users"])
        users = list(get_user_model().objects.filter(username__in=names, is_active=True))
        unknown = names - {user.username for user in users}
        if unknown:
            raise serializers.ValidationError(
                {"users": [_("Unknown users: %(names)s") % {"names": ", ".join(sorted(unknown))}]}
            )
        added = services.training_attendance_record(
            actor=request.user, session=session, users=users
        )
        return Response({"added": added})
