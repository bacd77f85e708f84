"""GraPARI's review queue: the items, most overdue first (keyset pages), an item with everything
needed to decide it, claims and decisions (one or in bulk)."""

from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import extend_schema, extend_schema_field, inline_serializer
from rest_framework import exceptions, permissions, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from core.disclosure import Kind, PersonalField, sees_in_full
from core.operator import get_adapter
from core.parsers import JSONParser
from core.roles import may_decide
from core.textclean import VisibleTextSerializerMixin

from ...models import Discrepancy, DiscrepancyKind, ReviewItem
from ...reconciliation.selectors import discrepancy_details_for_user
from ..review import (
    review_item_claim,
    review_item_decide,
    review_item_release,
    review_items_decide_bulk,
)
from ..selectors import (
    BadCursor,
    QueueFilters,
    can_view_review_queue,
    outlet_set_choices,
    review_item_get_for_user,
    review_items_for_user,
    review_queue_page,
)
from ..support import WorkflowConflict
from ._common import (
    CONFLICT,
    FIELD_ERRORS,
    IdListField,
    WorkflowRegistrationRefSerializer,
    conflict_response,
)
from .clarifications import ClarificationSerializer


class WorksQueue(permissions.BasePermission):
    """Reading the queue: GraPARI, the operator, the regulator. Acting on it: GraPARI and the
    operator only (403 for the regulator, before any body is read)."""

    message = _("Only GraPARI reviewers and the operator work the review queue.")

    def has_permission(self, request, view) -> bool:
        if view.action in ("list", "retrieve"):
            self.message = _("The review queue is GraPARI's, the operator's and the regulator's.")
            return can_view_review_queue(request.user)
        return may_decide(request.user)


class ReviewItemSerializer(VisibleTextSerializerMixin, serializers.ModelSerializer):
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
        if obj.claimed_by_id and obj.claim_expires_at and obj.claim_expires_at > timezone.now():
            return obj.claimed_by.get_username()
        return None

    def get_is_overdue(self, obj) -> bool:
        return obj.status == ReviewItem.Status.OPEN and obj.due_at < timezone.now()


class OperatorRecordSerializer(VisibleTextSerializerMixin, serializers.Serializer):
    """The operator's record of the number; personal values as the viewer's role may see them
    (``core.disclosure``)."""

    status = serializers.CharField()
    id_type = serializers.CharField()
    id_number_masked = PersonalField()
    full_name = PersonalField()
    birth_date = PersonalField()
    activated_at = serializers.DateTimeField(allow_null=True)
    outlet_roid = serializers.CharField()


class RegistrationSummarySerializer(VisibleTextSerializerMixin, serializers.Serializer):
    """The registration under review; personal values as the viewer's role may see them."""

    id = serializers.IntegerField(source="pk")
    registration_number = serializers.CharField()
    status = serializers.CharField()
    outlet_roid = serializers.CharField(source="outlet.roid")
    id_type = serializers.CharField()
    id_number_masked = PersonalField()
    full_name = PersonalField()
    birth_date = PersonalField()
    registered_at = serializers.DateTimeField()
    review_reasons = serializers.ListField(child=serializers.DictField())
    photos = serializers.SerializerMethodField(
        help_text=_("Photo kinds on record (not shown to the regulator)."),
    )

    def get_photos(self, registration) -> list[str]:
        if not sees_in_full(self.context["request"].user, Kind.PHOTO):
            return []
        return [k for k in ("id_photo", "face_photo") if getattr(registration, k)]


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
        return RegistrationSummarySerializer(registration, context=self.context).data

    @extend_schema_field(OperatorRecordSerializer(allow_null=True))
    def get_operator_record(self, obj) -> dict | None:
        record = get_adapter().lookup([obj.msisdn]).get(obj.msisdn)
        if record is None:
            return None
        return OperatorRecordSerializer(record, context=self.context).data

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


class QueueFilterSerializer(VisibleTextSerializerMixin, serializers.Serializer):
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
    outlet_set = serializers.ChoiceField(
        choices=[],
        required=False,
        help_text=_(
            "Only items of the outlets in this set (such as the outlets above the baseline of "
            "the risk signals)."
        ),
    )
    cursor = serializers.CharField(
        required=False, max_length=200, help_text=_("`next_cursor` of the previous page.")
    )
    page_size = serializers.IntegerField(required=False, min_value=1, max_value=100)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # The sets higher layers offer (``selectors.register_outlet_set``), known at run time.
        self.fields["outlet_set"].choices = [key for key, _label in outlet_set_choices()]


class ReviewPageSerializer(VisibleTextSerializerMixin, serializers.Serializer):
    count = serializers.IntegerField(help_text=_("Items matching, exact up to 10 000."))
    count_is_capped = serializers.BooleanField()
    next_cursor = serializers.CharField(allow_null=True)
    next = serializers.CharField(allow_null=True)
    results = ReviewItemSerializer(many=True)


class DecisionInputSerializer(VisibleTextSerializerMixin, serializers.Serializer):
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


class BulkDecisionResultSerializer(VisibleTextSerializerMixin, serializers.Serializer):
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
        outlet_set=data.get("outlet_set", ""),
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
            item = review_item_claim(actor=request.user, item=item)
        except WorkflowConflict as exc:
            return conflict_response(exc)
        return Response(ReviewItemSerializer(item, context={"request": request}).data)

    @extend_schema(request=None, responses={200: ReviewItemSerializer, 409: CONFLICT})
    @action(detail=True, methods=["post"])
    def release(self, request, pk=None):
        """Give the item back to the queue (your own claim; the operator may release any)."""
        item = review_item_get_for_user(user=request.user, pk=pk)
        try:
            item = review_item_release(actor=request.user, item=item)
        except WorkflowConflict as exc:
            return conflict_response(exc)
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
            item = review_item_decide(actor=request.user, item=item, **body.validated_data)
        except WorkflowConflict as exc:
            return conflict_response(exc)
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
            decided = review_items_decide_bulk(actor=request.user, items=items, **data)
        except WorkflowConflict as exc:
            return conflict_response(exc)
        return Response({"decided": [i.pk for i in decided]})
