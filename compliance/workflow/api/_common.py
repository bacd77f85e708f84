"""What the workflow's API modules share: the error answers, id lists, the registration
reference."""

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiResponse, inline_serializer
from rest_framework import serializers, status
from rest_framework.response import Response

from core.schema import FIELD_ERRORS_SCHEMA
from core.textclean import VisibleTextSerializerMixin

from ..support import WorkflowConflict

MAX_ID = 2**63 - 1
FIELD_ERRORS = OpenApiResponse(
    FIELD_ERRORS_SCHEMA, description="Every field at fault with its messages; nothing was written."
)
CONFLICT = OpenApiResponse(
    inline_serializer(
        "WorkflowConflict",
        {
            "detail": serializers.CharField(),
            "code": serializers.ChoiceField(
                choices=["claimed_by_other", "already_decided", "already_lifted", "changed"]
            ),
        },
    ),
    description="Someone else got there first: another reviewer holds the item, or it was "
    "already decided (or lifted). Nothing was written.",
)


class IdListField(serializers.ListField):
    """A list of ids whose faults are a flat list of messages (``"item 3: …"``), as every 400
    of the API is shaped (``{field: [messages]}``), not DRF's ``{index: [messages]}``."""

    def __init__(self, **kwargs):
        kwargs.setdefault("child", serializers.IntegerField(min_value=1, max_value=MAX_ID))
        super().__init__(**kwargs)

    def run_child_validation(self, data):
        try:
            return super().run_child_validation(data)
        except serializers.ValidationError as exc:
            detail = exc.detail if isinstance(exc.detail, dict) else {}
            raise serializers.ValidationError(
                [
                    f"item {index}: {message}"
                    for index, messages in detail.items()
                    for message in (messages if isinstance(messages, list) else [messages])
                ]
                or [str(_("Give a list of ids."))]
            ) from exc


def conflict_response(exc: WorkflowConflict, **extra) -> Response:
    return Response(
        {"detail": exc.message, "code": exc.code, **extra}, status=status.HTTP_409_CONFLICT
    )


class WorkflowRegistrationRefSerializer(VisibleTextSerializerMixin, serializers.Serializer):
    id = serializers.IntegerField()
    registration_number = serializers.CharField()
    status = serializers.CharField()
