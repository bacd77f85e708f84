"""The caller's own notifications, and marking them read."""

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import mixins, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from core.parsers import JSONParser
from core.textclean import VisibleTextSerializerMixin

from ...models import Notification
from ..notifications import notifications_mark_read
from ..selectors import notifications_for_user
from ._common import FIELD_ERRORS, IdListField


class NotificationSerializer(VisibleTextSerializerMixin, serializers.ModelSerializer):
    class Meta:
        model = Notification
        fields = ["id", "text", "link", "created_at", "read_at"]
        read_only_fields = fields


class MarkReadInputSerializer(VisibleTextSerializerMixin, serializers.Serializer):
    ids = IdListField(
        required=False,
        max_length=1000,
        help_text=_("The notifications to mark read; all unread ones when left out."),
    )


@extend_schema(tags=["notifications"])
class NotificationViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """The caller's own notifications, newest first."""

    serializer_class = NotificationSerializer

    def get_queryset(self):
        return notifications_for_user(user=self.request.user)

    @extend_schema(
        request=MarkReadInputSerializer,
        responses={
            200: inline_serializer("MarkedRead", {"marked": serializers.IntegerField()}),
            400: FIELD_ERRORS,
        },
    )
    @action(detail=False, methods=["post"], url_path="mark-read", parser_classes=[JSONParser])
    def mark_read(self, request):
        body = MarkReadInputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        marked = notifications_mark_read(user=request.user, ids=body.validated_data.get("ids"))
        return Response({"marked": marked})
