"""Clarification requests: read them, answer them (the party asked), see an answer's evidence."""

from django.http import FileResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import exceptions, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.response import Response

from core.disclosure import PersonalField, PersonalMappingField
from core.textclean import VisibleTextSerializerMixin

from ...models import Clarification, ClarificationAnswer, ClarificationItem
from ...reconciliation.selectors import discrepancy_details_for_user
from ..clarifications import clarification_answer, evidence_photo_open, may_answer
from ..selectors import (
    clarification_get_for_user,
    clarifications_for_user,
    may_see_evidence,
)
from ._common import FIELD_ERRORS, WorkflowRegistrationRefSerializer


class FileNegotiation(DefaultContentNegotiation):
    """For the photo download: errors answer as JSON whatever the Accept header says."""

    def select_renderer(self, request, renderers, format_suffix=None):
        return (renderers[0], renderers[0].media_type)


class ClarificationItemSerializer(VisibleTextSerializerMixin, serializers.ModelSerializer):
    discrepancy = serializers.IntegerField(source="discrepancy_id")
    discrepancy_status = serializers.CharField(source="discrepancy.status")
    details = serializers.SerializerMethodField()
    detected_at = serializers.DateTimeField(source="discrepancy.detected_at")

    class Meta:
        model = ClarificationItem
        fields = ["discrepancy", "kind", "discrepancy_status", "details", "detected_at", "round"]
        read_only_fields = fields

    @extend_schema_field(
        {
            "type": "object",
            "description": "The portal's and the operator's values side by side (`portal`, "
            "`operator`); ID numbers masked, and for the regulator names and dates too.",
            "additionalProperties": True,
        }
    )
    def get_details(self, obj) -> dict:
        return discrepancy_details_for_user(
            discrepancy=obj.discrepancy, user=self.context["request"].user
        )


class AnswerSerializer(VisibleTextSerializerMixin, serializers.ModelSerializer):
    answered_by = serializers.CharField(source="answered_by_label")
    # The proposed correction, field → new value, as the viewer's role may see it
    # (core.disclosure): ID and KK numbers masked; for the regulator names, places and dates
    # masked and the address withheld. Applied only when GraPARI accepts it.
    correction = PersonalMappingField()
    # The outlet's own words about the buyer's case: in full for those who work the case;
    # withheld ("***") from the regulator, who sees that an answer was given, not what it says.
    explanation = PersonalField(
        help_text="The outlet's explanation; withheld (`***`) from the regulator: free text "
        "can carry the buyer's personal data."
    )
    evidence_photo_url = serializers.SerializerMethodField()

    class Meta:
        model = ClarificationAnswer
        fields = [
            "id",
            "round",
            "answered_by",
            "explanation",
            "correction",
            "evidence_photo_url",
            "outcome",
            "created_at",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_evidence_photo_url(self, obj) -> str | None:
        user = self.context["request"].user
        if not obj.evidence_photo or not may_see_evidence(user, obj.clarification):
            return None
        return reverse(
            "clarification-evidence", kwargs={"pk": obj.clarification_id, "answer_id": obj.pk}
        )


class ClarificationSerializer(VisibleTextSerializerMixin, serializers.ModelSerializer):
    outlet_roid = serializers.CharField(source="outlet.roid", allow_null=True, default=None)
    dealer_code = serializers.CharField(source="dealer.code")
    party = serializers.CharField(source="party.name", allow_null=True, default=None)
    registration = serializers.SerializerMethodField()
    is_overdue = serializers.SerializerMethodField()
    can_answer = serializers.SerializerMethodField()
    items = ClarificationItemSerializer(many=True, read_only=True)
    answers = AnswerSerializer(many=True, read_only=True)

    class Meta:
        model = Clarification
        fields = [
            "id",
            "msisdn",
            "status",
            "accountable",
            "outlet_roid",
            "dealer_code",
            "party",
            "registration",
            "question",
            "round",
            "opened_at",
            "due_at",
            "is_overdue",
            "answered_at",
            "expired_at",
            "resolved_at",
            "decision",
            "can_answer",
            "items",
            "answers",
        ]
        read_only_fields = fields

    @extend_schema_field(WorkflowRegistrationRefSerializer(allow_null=True))
    def get_registration(self, obj) -> dict | None:
        if obj.registration_id is None:
            return None
        return {
            "id": obj.registration_id,
            "registration_number": obj.registration.registration_number,
            "status": obj.registration.status,
        }

    def get_is_overdue(self, obj) -> bool:
        return obj.awaits_answer and obj.due_at <= timezone.now()

    def get_can_answer(self, obj) -> bool:
        return obj.awaits_answer and may_answer(self.context["request"].user, obj)


class ClarificationFilterSerializer(VisibleTextSerializerMixin, serializers.Serializer):
    status = serializers.ChoiceField(
        choices=[("active", "active"), ("awaiting", "awaiting"), *Clarification.Status.choices],
        required=False,
        help_text=_("A status, or `active` (in progress) / `awaiting` (waiting for the answer)."),
    )
    outlet = serializers.CharField(required=False, max_length=20, help_text=_("Outlet ROID."))
    msisdn = serializers.CharField(required=False, max_length=20)


class AnswerInputSerializer(VisibleTextSerializerMixin, serializers.Serializer):
    """The answer: an explanation, optionally corrected fields (the registration API's names,
    checked by the same rules) and an evidence photo (multipart)."""

    explanation = serializers.CharField(
        required=False, allow_blank=True, max_length=4000, trim_whitespace=False
    )
    id_type = serializers.CharField(required=False, allow_blank=True, max_length=20)
    id_number = serializers.CharField(required=False, allow_blank=True, max_length=40)
    kk_number = serializers.CharField(required=False, allow_blank=True, max_length=40)
    full_name = serializers.CharField(required=False, allow_blank=True, max_length=100)
    birth_place = serializers.CharField(required=False, allow_blank=True, max_length=100)
    birth_date = serializers.CharField(
        required=False, allow_blank=True, max_length=20, help_text="YYYY-MM-DD"
    )
    sex = serializers.CharField(required=False, allow_blank=True, max_length=1)
    address = serializers.CharField(required=False, allow_blank=True, max_length=300)
    nationality = serializers.CharField(required=False, allow_blank=True, max_length=2)


class AnswerWithPhotoInputSerializer(AnswerInputSerializer):
    evidence_photo = serializers.FileField(
        required=False, help_text=_("A photo of the buyer's document (required with a correction).")
    )


ANSWER_BODY = {
    "application/json": AnswerInputSerializer,
    "multipart/form-data": AnswerWithPhotoInputSerializer,
}


@extend_schema(tags=["clarifications"])
class ClarificationViewSet(viewsets.ReadOnlyModelViewSet):
    """Clarification requests the caller may see: the own outlet's for outlet staff, the
    dealer's (its outlets', its own and its parties') for a dealer admin, all for the operator,
    GraPARI and the regulator. Another outlet's request is a 404."""

    serializer_class = ClarificationSerializer
    lookup_value_regex = r"[0-9]{1,18}"

    def get_queryset(self):
        return clarifications_for_user(user=self.request.user).prefetch_related(
            "items__discrepancy", "answers"
        )

    @extend_schema(parameters=[ClarificationFilterSerializer])
    def list(self, request, *args, **kwargs):
        params = ClarificationFilterSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        queryset = clarifications_for_user(
            user=request.user, filters=params.validated_data
        ).prefetch_related("items__discrepancy", "answers")
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    def retrieve(self, request, pk=None):
        clarification = clarification_get_for_user(user=request.user, pk=pk)
        return Response(self.get_serializer(clarification).data)

    @extend_schema(
        request=ANSWER_BODY,
        responses={
            201: ClarificationSerializer,
            400: FIELD_ERRORS,
            403: OpenApiResponse(description="Not the party asked (a GraPARI user, say)."),
            404: OpenApiResponse(description="No such request, or not yours to see."),
        },
    )
    @action(detail=True, methods=["post"])
    def answer(self, request, pk=None):
        """Answer a request awaiting your answer, before its deadline: `explanation`, any
        corrected fields (validated like a new registration; a correction needs an
        `evidence_photo`). After the deadline: 400 saying it went to GraPARI."""
        clarification = clarification_get_for_user(user=request.user, pk=pk)
        if not may_answer(request.user, clarification):
            raise exceptions.PermissionDenied(_("Only the party asked can answer this request."))
        body = AnswerWithPhotoInputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = dict(body.validated_data)
        photo = data.pop("evidence_photo", None)
        explanation = data.pop("explanation", "")
        clarification_answer(
            actor=request.user,
            clarification=clarification,
            explanation=explanation,
            correction=data,
            evidence_photo=photo,
        )
        clarification = clarification_get_for_user(user=request.user, pk=pk)
        return Response(self.get_serializer(clarification).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        responses={
            (200, "image/jpeg"): OpenApiTypes.BINARY,
            403: OpenApiResponse(
                description="The caller sees the request and its answers but not their photos: "
                "the regulator; a dealer admin, for an outlet's request."
            ),
            404: OpenApiResponse(
                description="No such request (or not one the caller may see), answer or photo."
            ),
        },
    )
    @action(
        detail=True,
        methods=["get"],
        url_path=r"answers/(?P<answer_id>[0-9]{1,18})/evidence",
        url_name="evidence",
        content_negotiation_class=FileNegotiation,
    )
    def evidence(self, request, pk=None, answer_id=None):
        """An answer's evidence photo: to the party asked, GraPARI and the operator; never the
        regulator. Each view is audited."""
        handle = evidence_photo_open(user=request.user, clarification_pk=pk, answer_pk=answer_id)
        response = FileResponse(handle, content_type="image/jpeg")
        response["Cache-Control"] = "private, no-store"
        response["X-Content-Type-Options"] = "nosniff"
        return response
