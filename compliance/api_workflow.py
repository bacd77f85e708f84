"""API of the compliance workflow: clarifications (the outlet answers them), the review queue
(GraPARI claims and decides its items), sanctions, and the caller's notifications.

Thin: check the shape, fetch through the scoped selectors (another outlet's request is a 404),
call one service, answer. A service's ``ValidationError`` is the 400 with each field at fault
(``core.api``); a ``WorkflowConflict`` — an item claimed by another reviewer, a
decision already taken — is a 409 with ``detail`` and ``code``.
"""

from django.http import FileResponse
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
    inline_serializer,
)
from rest_framework import exceptions, mixins, permissions, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.parsers import JSONParser
from rest_framework.response import Response

from core.masking import mask_name
from core.operator import get_adapter
from core.roles import is_regulator, may_decide
from core.schema import FIELD_ERRORS_SCHEMA

from . import clarifications, review, sanctions
from .models import (
    Clarification,
    ClarificationAnswer,
    ClarificationItem,
    Discrepancy,
    DiscrepancyKind,
    Notification,
    ReviewItem,
    Sanction,
)
from .notifications import notifications_mark_read
from .selectors import discrepancy_details_for_user
from .selectors_workflow import (
    BadCursor,
    QueueFilters,
    answer_get_for_user,
    can_view_review_queue,
    clarification_get_for_user,
    clarifications_for_user,
    may_see_evidence,
    notifications_for_user,
    review_item_get_for_user,
    review_items_for_user,
    review_queue_page,
    sanction_get_for_user,
    sanctions_for_user,
)
from .workflow_support import WorkflowConflict

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


def _conflict_response(exc: WorkflowConflict, **extra) -> Response:
    return Response(
        {"detail": exc.message, "code": exc.code, **extra}, status=status.HTTP_409_CONFLICT
    )


def _mask_name(name: str) -> str:
    return mask_name(name) if name else name


class FileNegotiation(DefaultContentNegotiation):
    """For the photo download: errors answer as JSON whatever the Accept header says."""

    def select_renderer(self, request, renderers, format_suffix=None):
        return (renderers[0], renderers[0].media_type)


# --- clarifications -----------------------------------------------------------------------------


class WorkflowRegistrationRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    registration_number = serializers.CharField()
    status = serializers.CharField()


class ClarificationItemSerializer(serializers.ModelSerializer):
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


class AnswerSerializer(serializers.ModelSerializer):
    answered_by = serializers.CharField(source="answered_by_label")
    correction = serializers.SerializerMethodField()
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

    @extend_schema_field(
        {
            "type": "object",
            "description": "The proposed correction, field → new value (ID and KK numbers "
            "masked; for the regulator names too). Applied only when GraPARI accepts it.",
            "additionalProperties": {"type": "string"},
        }
    )
    def get_correction(self, obj) -> dict:
        correction = dict(obj.correction or {})
        if is_regulator(self.context["request"].user) and correction.get("full_name"):
            correction["full_name"] = _mask_name(correction["full_name"])
        return correction

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_evidence_photo_url(self, obj) -> str | None:
        user = self.context["request"].user
        if not obj.evidence_photo or not may_see_evidence(user, obj.clarification):
            return None
        return reverse(
            "clarification-evidence", kwargs={"pk": obj.clarification_id, "answer_id": obj.pk}
        )


class ClarificationSerializer(serializers.ModelSerializer):
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
        from django.utils import timezone

        return obj.awaits_answer and obj.due_at <= timezone.now()

    def get_can_answer(self, obj) -> bool:
        return obj.awaits_answer and clarifications.may_answer(self.context["request"].user, obj)


class ClarificationFilterSerializer(serializers.Serializer):
    status = serializers.ChoiceField(
        choices=[("active", "active"), ("awaiting", "awaiting"), *Clarification.Status.choices],
        required=False,
        help_text=_("A status, or `active` (in progress) / `awaiting` (waiting for the answer)."),
    )
    outlet = serializers.CharField(required=False, max_length=20, help_text=_("Outlet ROID."))
    msisdn = serializers.CharField(required=False, max_length=20)


class AnswerInputSerializer(serializers.Serializer):
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
        if not clarifications.may_answer(request.user, clarification):
            raise exceptions.PermissionDenied(_("Only the party asked can answer this request."))
        body = AnswerWithPhotoInputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = dict(body.validated_data)
        photo = data.pop("evidence_photo", None)
        explanation = data.pop("explanation", "")
        clarifications.clarification_answer(
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
            403: OpenApiResponse(description="The regulator (and anyone not concerned)."),
            404: OpenApiResponse(description="No such request, answer or photo."),
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
        from django.http import Http404

        from core.audit import audit_record

        clarification = clarification_get_for_user(user=request.user, pk=pk)
        if not may_see_evidence(request.user, clarification):
            raise exceptions.PermissionDenied(_("Your role may not see evidence photos."))
        answer = answer_get_for_user(user=request.user, clarification=clarification, pk=answer_id)
        if not answer.evidence_photo:
            raise Http404("no photo")
        try:
            handle = answer.evidence_photo.open("rb")
        except FileNotFoundError as exc:
            raise Http404("photo missing") from exc
        audit_record(
            actor=request.user,
            action="clarification.evidence_view",
            target=clarification,
            after={"answer": answer.pk},
        )
        response = FileResponse(handle, content_type="image/jpeg")
        response["Cache-Control"] = "private, no-store"
        response["X-Content-Type-Options"] = "nosniff"
        return response


# --- the review queue ---------------------------------------------------------------------------


class WorksQueue(permissions.BasePermission):
    """Reading the queue: GraPARI, the operator, the regulator. Acting on it: GraPARI and the
    operator only (403 for the regulator, before any body is read)."""

    message = _("Only GraPARI reviewers and the operator work the review queue.")

    def has_permission(self, request, view) -> bool:
        if view.action in ("list", "retrieve"):
            self.message = _("The review queue is GraPARI's, the operator's and the regulator's.")
            return can_view_review_queue(request.user)
        return may_decide(request.user)


class ReviewItemSerializer(serializers.ModelSerializer):
    outlet_roid = serializers.CharField(source="outlet.roid", allow_null=True, default=None)
    dealer_code = serializers.CharField(source="dealer.code", allow_null=True, default=None)
    registration = serializers.SerializerMethodField()
    discrepancy_kinds = serializers.ListField(child=serializers.CharField(), source="kinds")
    claimed_by = serializers.SerializerMethodField()
    is_overdue = serializers.SerializerMethodField()

    class Meta:
        model = ReviewItem
        fields = [
            "id",
            "kind",
            "status",
            "msisdn",
            "registration",
            "clarification",
            "outlet_roid",
            "dealer_code",
            "province",
            "region",
            "discrepancy_kinds",
            "queued_at",
            "due_at",
            "is_overdue",
            "claimed_by",
            "claim_expires_at",
            "decision",
            "reason",
            "decided_at",
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

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_claimed_by(self, obj) -> str | None:
        from django.utils import timezone

        if obj.claimed_by_id and obj.claim_expires_at and obj.claim_expires_at > timezone.now():
            return obj.claimed_by.get_username()
        return None

    def get_is_overdue(self, obj) -> bool:
        from django.utils import timezone

        return obj.status == ReviewItem.Status.OPEN and obj.due_at < timezone.now()


class OperatorRecordSerializer(serializers.Serializer):
    status = serializers.CharField()
    id_type = serializers.CharField()
    id_number_masked = serializers.CharField()
    full_name = serializers.CharField()
    birth_date = serializers.DateField(allow_null=True)
    activated_at = serializers.DateTimeField(allow_null=True)
    outlet_roid = serializers.CharField()


class RegistrationSummarySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    registration_number = serializers.CharField()
    status = serializers.CharField()
    outlet_roid = serializers.CharField()
    id_type = serializers.CharField()
    id_number_masked = serializers.CharField()
    full_name = serializers.CharField()
    birth_date = serializers.CharField()
    registered_at = serializers.DateTimeField()
    review_reasons = serializers.ListField(child=serializers.DictField())
    photos = serializers.ListField(
        child=serializers.CharField(),
        help_text=_("Photo kinds on record (not shown to the regulator)."),
    )


class ReviewItemDetailSerializer(ReviewItemSerializer):
    request = serializers.SerializerMethodField()
    registration_data = serializers.SerializerMethodField()
    operator_record = serializers.SerializerMethodField()
    discrepancies = serializers.SerializerMethodField()

    class Meta(ReviewItemSerializer.Meta):
        fields = [
            *ReviewItemSerializer.Meta.fields,
            "request",
            "registration_data",
            "operator_record",
            "discrepancies",
        ]
        read_only_fields = fields

    @extend_schema_field(ClarificationSerializer(allow_null=True))
    def get_request(self, obj) -> dict | None:
        if obj.clarification_id is None:
            return None
        return ClarificationSerializer(obj.clarification, context=self.context).data

    @extend_schema_field(RegistrationSummarySerializer(allow_null=True))
    def get_registration_data(self, obj) -> dict | None:
        registration = obj.registration
        if registration is None:
            return None
        regulator = is_regulator(self.context["request"].user)
        return {
            "id": registration.pk,
            "registration_number": registration.registration_number,
            "status": registration.status,
            "outlet_roid": registration.outlet.roid,
            "id_type": registration.id_type,
            "id_number_masked": registration.id_number_masked,
            "full_name": _mask_name(registration.full_name)
            if regulator
            else registration.full_name,
            "birth_date": (
                f"{registration.birth_date:%Y}-**-**"
                if regulator
                else registration.birth_date.isoformat()
            ),
            "registered_at": registration.registered_at,
            "review_reasons": registration.review_reasons,
            "photos": []
            if regulator
            else [k for k in ("id_photo", "face_photo") if getattr(registration, k)],
        }

    @extend_schema_field(OperatorRecordSerializer(allow_null=True))
    def get_operator_record(self, obj) -> dict | None:
        record = get_adapter().lookup([obj.msisdn]).get(obj.msisdn)
        if record is None:
            return None
        regulator = is_regulator(self.context["request"].user)
        return {
            "status": record.status,
            "id_type": record.id_type,
            "id_number_masked": record.id_number_masked,
            "full_name": _mask_name(record.full_name) if regulator else record.full_name,
            "birth_date": None if regulator else record.birth_date,
            "activated_at": record.activated_at,
            "outlet_roid": record.outlet_roid,
        }

    @extend_schema_field(
        inline_serializer(
            "ReviewDiscrepancy",
            {
                "id": serializers.IntegerField(),
                "kind": serializers.ChoiceField(choices=DiscrepancyKind.choices),
                "status": serializers.CharField(),
                "details": serializers.DictField(),
            },
            many=True,
        )
    )
    def get_discrepancies(self, obj) -> list:
        user = self.context["request"].user
        rows = Discrepancy.objects.filter(msisdn=obj.msisdn, status=Discrepancy.Status.OPEN)
        return [
            {
                "id": d.pk,
                "kind": d.kind,
                "status": d.status,
                "details": discrepancy_details_for_user(discrepancy=d, user=user),
            }
            for d in rows.order_by("pk")
        ]


class QueueFilterSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=ReviewItem.Kind.choices, required=False)
    discrepancy_kind = serializers.ChoiceField(choices=DiscrepancyKind.choices, required=False)
    province = serializers.CharField(required=False, max_length=2)
    region = serializers.CharField(required=False, max_length=100)
    dealer = serializers.CharField(required=False, max_length=20, help_text=_("Dealer code."))
    outlet = serializers.CharField(required=False, max_length=20, help_text=_("Outlet ROID."))
    older_than_days = serializers.IntegerField(required=False, min_value=1, max_value=3650)
    overdue = serializers.BooleanField(
        required=False, allow_null=True, default=None, help_text=_("Past the decide-by time.")
    )
    claimed = serializers.ChoiceField(
        choices=[("mine", "mine"), ("free", "free"), ("others", "others")], required=False
    )
    cursor = serializers.CharField(
        required=False, max_length=200, help_text=_("`next_cursor` of the previous page.")
    )
    page_size = serializers.IntegerField(required=False, min_value=1, max_value=100)


class ReviewPageSerializer(serializers.Serializer):
    count = serializers.IntegerField(help_text=_("Items matching, exact up to 10 000."))
    count_is_capped = serializers.BooleanField()
    next_cursor = serializers.CharField(allow_null=True)
    next = serializers.CharField(allow_null=True)
    results = ReviewItemSerializer(many=True)


class DecisionInputSerializer(serializers.Serializer):
    decision = serializers.ChoiceField(choices=ReviewItem.Decision.choices)
    reason = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=4000,
        help_text=_("Required for every decision but accepting a correction."),
    )
    block_number = serializers.BooleanField(
        required=False,
        default=False,
        help_text=_("With confirm_violation: also block the number."),
    )


class BulkDecisionInputSerializer(DecisionInputSerializer):
    items = IdListField(min_length=1, max_length=1000)


class BulkDecisionResultSerializer(serializers.Serializer):
    decided = serializers.ListField(child=serializers.IntegerField())


def _queue_filters(data: dict) -> QueueFilters:
    return QueueFilters(
        kind=data.get("kind", ""),
        discrepancy_kind=data.get("discrepancy_kind", ""),
        province=data.get("province", ""),
        region=data.get("region", ""),
        dealer=data.get("dealer", ""),
        outlet=(data.get("outlet") or "").upper(),
        older_than_days=data.get("older_than_days"),
        overdue=data.get("overdue"),
        claimed=data.get("claimed", ""),
    )


class _EnvelopedListSchema(AutoSchema):
    """The queue's ``list`` answers one page object (count, cursor, results), not an array:
    drf-spectacular would wrap any ``list`` action's response in an array."""

    def _is_list_view(self, serializer=None) -> bool:
        if getattr(self.view, "action", None) == "list":
            return False
        return super()._is_list_view(serializer)

    def get_operation_id(self) -> str:
        operation_id = super().get_operation_id()
        if getattr(self.view, "action", None) == "list":  # still the list, by name
            return operation_id.removesuffix("_retrieve") + "_list"
        return operation_id


@extend_schema(tags=["review"])
class ReviewItemViewSet(viewsets.GenericViewSet):
    """GraPARI's review queue: flagged registrations and answered or expired clarification
    requests, most overdue first, keyset-paginated (`next_cursor`). GraPARI and the operator
    claim and decide; the regulator reads; anyone else gets a 403."""

    serializer_class = ReviewItemSerializer
    permission_classes = [permissions.IsAuthenticated, WorksQueue]
    lookup_value_regex = r"[0-9]{1,18}"
    pagination_class = None
    schema = _EnvelopedListSchema()

    def get_queryset(self):
        return review_items_for_user(user=self.request.user)

    @extend_schema(parameters=[QueueFilterSerializer], responses={200: ReviewPageSerializer})
    def list(self, request):
        params = QueueFilterSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        data = params.validated_data
        queryset = review_items_for_user(user=request.user, filters=_queue_filters(data))
        try:
            page = review_queue_page(
                queryset, after=data.get("cursor"), size=data.get("page_size") or 25
            )
        except BadCursor as exc:
            raise exceptions.ValidationError({"cursor": [_("This cursor is not valid.")]}) from exc
        next_url = None
        if page.next_cursor:
            query = request.query_params.copy()
            query["cursor"] = page.next_cursor
            next_url = request.build_absolute_uri(f"{request.path}?{query.urlencode()}")
        return Response(
            {
                "count": page.count,
                "count_is_capped": page.count_is_capped,
                "next_cursor": page.next_cursor,
                "next": next_url,
                "results": ReviewItemSerializer(
                    page.items, many=True, context={"request": request}
                ).data,
            }
        )

    @extend_schema(responses={200: ReviewItemDetailSerializer})
    def retrieve(self, request, pk=None):
        """An item with everything needed to decide it: the registration, the operator's
        record, the request and the outlet's answers, the open discrepancies."""
        item = review_item_get_for_user(user=request.user, pk=pk)
        return Response(ReviewItemDetailSerializer(item, context={"request": request}).data)

    @extend_schema(request=None, responses={200: ReviewItemSerializer, 409: CONFLICT})
    @action(detail=True, methods=["post"])
    def claim(self, request, pk=None):
        """Claim the item (free, yours already, or its claim expired); 409 when another reviewer
        holds it or it is decided."""
        item = review_item_get_for_user(user=request.user, pk=pk)
        try:
            item = review.review_item_claim(actor=request.user, item=item)
        except WorkflowConflict as exc:
            return _conflict_response(exc)
        return Response(ReviewItemSerializer(item, context={"request": request}).data)

    @extend_schema(request=None, responses={200: ReviewItemSerializer, 409: CONFLICT})
    @action(detail=True, methods=["post"])
    def release(self, request, pk=None):
        """Give the item back to the queue (your own claim; the operator may release any)."""
        item = review_item_get_for_user(user=request.user, pk=pk)
        try:
            item = review.review_item_release(actor=request.user, item=item)
        except WorkflowConflict as exc:
            return _conflict_response(exc)
        return Response(ReviewItemSerializer(item, context={"request": request}).data)

    @extend_schema(
        request=DecisionInputSerializer,
        responses={200: ReviewItemSerializer, 400: FIELD_ERRORS, 409: CONFLICT},
    )
    @action(detail=True, methods=["post"])
    def decide(self, request, pk=None):
        """Decide the item: `dismiss`, `accept` (the outlet's correction), `ask_again`,
        `confirm_violation` (optionally `block_number`), `block`. A `reason` is required for all
        but `accept`; 409 when another reviewer holds the item or it is already decided."""
        item = review_item_get_for_user(user=request.user, pk=pk)
        body = DecisionInputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            item = review.review_item_decide(actor=request.user, item=item, **body.validated_data)
        except WorkflowConflict as exc:
            return _conflict_response(exc)
        return Response(ReviewItemSerializer(item, context={"request": request}).data)

    @extend_schema(
        request=BulkDecisionInputSerializer,
        responses={200: BulkDecisionResultSerializer, 400: FIELD_ERRORS, 409: CONFLICT},
    )
    @action(detail=False, methods=["post"], url_path="bulk-decide", parser_classes=[JSONParser])
    def bulk_decide(self, request):
        """One decision for many items of the same kind, in one transaction, each audited;
        nothing is written when one of them cannot be decided."""
        body = BulkDecisionInputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = dict(body.validated_data)
        ids = list(dict.fromkeys(data.pop("items")))
        items = list(review_items_for_user(user=request.user, status="").filter(pk__in=ids))
        missing = sorted(set(ids) - {i.pk for i in items})
        if missing:
            raise exceptions.ValidationError(
                {"items": [_("No such items: %(ids)s.") % {"ids": ", ".join(map(str, missing))}]}
            )
        try:
            decided = review.review_items_decide_bulk(actor=request.user, items=items, **data)
        except WorkflowConflict as exc:
            return _conflict_response(exc)
        return Response({"decided": [i.pk for i in decided]})


# --- sanctions ----------------------------------------------------------------------------------


class SanctionSerializer(serializers.ModelSerializer):
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


class SanctionFilterSerializer(serializers.Serializer):
    outlet = serializers.CharField(required=False, max_length=20, help_text=_("Outlet ROID."))
    level = serializers.ChoiceField(choices=Sanction.Level.choices, required=False)
    active = serializers.BooleanField(required=False, allow_null=True, default=None)


class LiftInputSerializer(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, max_length=4000)


class LiftsSanctions(permissions.BasePermission):
    message = _("Only operator admins lift sanctions.")

    def has_permission(self, request, view) -> bool:
        return view.action != "lift" or sanctions.may_lift(request.user)


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
            sanction = sanctions.sanction_lift(
                actor=request.user, sanction=sanction, reason=body.validated_data.get("reason", "")
            )
        except WorkflowConflict as exc:
            return _conflict_response(exc)
        return Response(self.get_serializer(sanction).data)


# --- notifications ----------------------------------------------------------------------------


class NotificationSerializer(serializers.ModelSerializer):
    class Meta:
        model = Notification
        fields = ["id", "text", "link", "created_at", "read_at"]
        read_only_fields = fields


class MarkReadInputSerializer(serializers.Serializer):
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
