"""API of responsibility-transfer agreements and the parties they name.

An agreement is created from JSON (party, period, ranges) as a draft; it comes into force when
its signed document (a PDF or a photo) is uploaded to ``agreements/{id}/document/``.
"""

from django.http import FileResponse
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions, mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from core.textclean import VisibleTextSerializerMixin

from .. import selectors, services, stockfiles
from ..models import AgreementRange, ResponsibleParty, TransferAgreement
from ..services.stock import range_message
from ._common import (
    FIELD_ERRORS,
    ActionAllowed,
    DealerSummarySerializer,
    IdField,
    IgnoreClientContentNegotiation,
    is_dealer_admin,
)

DOCUMENT_TYPES = ("application/pdf", "image/jpeg", "image/png", "image/webp")


class PartySerializer(VisibleTextSerializerMixin, serializers.ModelSerializer):
    dealer = DealerSummarySerializer(read_only=True)

    class Meta:
        model = ResponsibleParty
        fields = [
            "id",
            "dealer",
            "name",
            "registration_number",
            "contact_name",
            "phone",
            "address",
            "created_at",
        ]
        read_only_fields = ["id", "dealer", "created_at"]
        extra_kwargs = {
            "name": {"max_length": 150},
            "registration_number": {"required": False},
            "contact_name": {"required": False},
            "phone": {"required": False},
            "address": {"required": False},
        }


@extend_schema(tags=["agreements"])
class ResponsiblePartyViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """Parties outside the dealer's outlets (sub-resellers) that packs are handed to: the
    dealer's own for a dealer admin (who records them), all for operator roles."""

    serializer_class = PartySerializer
    lookup_value_regex = r"[0-9]{1,18}"
    permission_classes = [ActionAllowed]
    allowed_for = {"create": is_dealer_admin}

    def get_queryset(self):
        return selectors.parties_for_user(user=self.request.user)

    @extend_schema(responses={201: PartySerializer, 400: FIELD_ERRORS})
    def create(self, request):
        """Record a party of the caller's dealer."""
        body = PartySerializer(data=request.data)
        body.is_valid(raise_exception=True)
        dealer = request.user.dealer_admin.dealer
        party = services.responsible_party_create(
            actor=request.user, dealer=dealer, **body.validated_data
        )
        return Response(self.get_serializer(party).data, status=status.HTTP_201_CREATED)


class RangeSerializer(VisibleTextSerializerMixin, serializers.ModelSerializer):
    class Meta:
        model = AgreementRange
        fields = ["msisdn_from", "msisdn_to"]
        extra_kwargs = {
            "msisdn_from": {"max_length": 24},
            "msisdn_to": {"max_length": 24},
        }


class AgreementSerializer(VisibleTextSerializerMixin, serializers.ModelSerializer):
    dealer = DealerSummarySerializer(read_only=True)
    party = PartySerializer(read_only=True)
    ranges = RangeSerializer(many=True, read_only=True)
    has_document = serializers.SerializerMethodField()

    class Meta:
        model = TransferAgreement
        fields = [
            "id",
            "dealer",
            "party",
            "reference",
            "starts_on",
            "ends_on",
            "status",
            "ranges",
            "pack_count",
            "has_document",
            "document_content_type",
            "document_size",
            "created_at",
        ]
        read_only_fields = fields

    def get_has_document(self, agreement) -> bool:
        return bool(agreement.document)


class AgreementInputSerializer(VisibleTextSerializerMixin, serializers.Serializer):
    party = IdField(help_text=_("One of your parties' id."))
    reference = serializers.CharField(max_length=60, required=False, allow_blank=True)
    starts_on = serializers.DateField()
    ends_on = serializers.DateField()
    ranges = serializers.ListField(
        child=RangeSerializer(), min_length=1, max_length=200, help_text=_("Both ends included.")
    )


class DocumentSerializer(VisibleTextSerializerMixin, serializers.Serializer):
    document = serializers.FileField(help_text=_("The signed agreement: a PDF or a photo."))


class AgreementFilterSerializer(VisibleTextSerializerMixin, serializers.Serializer):
    status = serializers.ChoiceField(choices=TransferAgreement.Status.choices, required=False)


@extend_schema(tags=["agreements"])
class AgreementViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Responsibility-transfer agreements: the dealer's own for a dealer admin, all for operator
    roles. Reconciliation holds the party accountable, instead of the dealer, for the
    unregistered packs an agreement in force covers. The signed document is for the dealer,
    the operator and GraPARI (not the regulator)."""

    serializer_class = AgreementSerializer
    lookup_value_regex = r"[0-9]{1,18}"
    permission_classes = [ActionAllowed]
    allowed_for = {"create": is_dealer_admin, "upload_document": is_dealer_admin}

    def get_queryset(self):
        return selectors.agreements_for_user(user=self.request.user)

    @extend_schema(parameters=[AgreementFilterSerializer])
    def list(self, request, *args, **kwargs):
        params = AgreementFilterSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        queryset = selectors.agreements_for_user(
            user=request.user, status=params.validated_data.get("status")
        )
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    @extend_schema(
        request=AgreementInputSerializer, responses={201: AgreementSerializer, 400: FIELD_ERRORS}
    )
    def create(self, request):
        """Record an agreement of the caller's dealer, as a draft until its document comes."""
        body = AgreementInputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        party = selectors.parties_for_user(user=request.user).filter(pk=data["party"]).first()
        if party is None:
            raise serializers.ValidationError({"party": [_("Unknown party.")]})
        spans, faults = [], []
        for position, item in enumerate(data["ranges"], start=1):
            try:
                spans.append(
                    stockfiles.parse_range(
                        item["msisdn_from"],
                        item["msisdn_to"],
                        max_count=stockfiles.MAX_LINES * 10,
                    )
                )
            except stockfiles.RangeError as exc:
                faults.append(
                    _("Range %(n)d: %(message)s")
                    % {"n": position, "message": range_message(exc.code, **exc.params)}
                )
        if faults:
            raise serializers.ValidationError({"ranges": faults})
        agreement = services.agreement_create(
            actor=request.user,
            dealer=party.dealer,
            party=party,
            starts_on=data["starts_on"],
            ends_on=data["ends_on"],
            ranges=spans,
            reference=data.get("reference", ""),
        )
        return Response(self.get_serializer(agreement).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        responses={
            **{(200, media): OpenApiTypes.BINARY for media in DOCUMENT_TYPES},
            404: OpenApiResponse(description="No such agreement, or no document yet."),
        },
    )
    @action(
        detail=True,
        methods=["get"],
        url_path="document",
        content_negotiation_class=IgnoreClientContentNegotiation,
    )
    def document(self, request, pk=None):
        """The signed document (dealer, operator, GraPARI); each reading is audited."""
        agreement = self.get_object()
        try:
            handle = services.agreement_document_open(actor=request.user, agreement=agreement)
        except PermissionError as exc:
            raise exceptions.PermissionDenied(
                _("Your role may not read signed agreements.")
            ) from exc
        except FileNotFoundError as exc:
            raise exceptions.NotFound(_("No signed document on record yet.")) from exc
        response = FileResponse(handle, content_type=agreement.document_content_type)
        response["Cache-Control"] = "private, no-store"
        return response

    @extend_schema(
        request={"multipart/form-data": DocumentSerializer},
        responses={200: AgreementSerializer, 400: FIELD_ERRORS},
    )
    @document.mapping.post
    def upload_document(self, request, pk=None):
        """Upload (or replace) the signed document; a draft comes into force with it."""
        agreement = self.get_object()
        body = DocumentSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        services.agreement_attach_document(
            actor=request.user, agreement=agreement, document=body.validated_data["document"]
        )
        agreement = self.get_queryset().get(pk=agreement.pk)
        return Response(self.get_serializer(agreement).data)
