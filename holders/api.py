"""The holder's door as an API (``/api/v1/holder/…``), in the OpenAPI schema.

- ``POST sessions/`` ``{"id_number", "kk_number", "msisdn"}`` → 202 ``{"session"}`` whatever
  the facts (400 for malformed input only, 429 over the throttles);
- ``POST sessions/{id}/verify/`` ``{"code"}`` → 200 ``{"token", "expires_in"}`` or 400;
- with ``Authorization: Bearer TOKEN``: ``GET numbers/``, ``GET disputes/``,
  ``POST disputes/`` ``{"msisdn", "note"}`` → 201.

Thin: each view calls one service of ``holders.services``.
"""

from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import exceptions, serializers, status
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.permissions import AllowAny, BasePermission
from rest_framework.response import Response
from rest_framework.views import APIView

from core.clientip import client_ip
from core.pagination import CappedPageNumberPagination
from core.publicurl import public_url
from core.schema import FIELD_ERRORS_SCHEMA

from . import services
from .models import HolderDispute, HolderSession
from .selectors import holder_disputes

FIELD_ERRORS = OpenApiResponse(
    FIELD_ERRORS_SCHEMA, description="Every field at fault with its messages; nothing was written."
)


class HolderPrincipal:
    """The verified holder as ``request.user``: no account, no role; only their own NIK."""

    is_authenticated = True
    is_active = True
    is_anonymous = False
    is_operator = False
    is_staff = False
    is_superuser = False
    role = ""

    def __init__(self, session: HolderSession):
        self.session = session
        self.pk = self.id = f"holder:{session.pk}"

    def get_username(self) -> str:
        return "holder"


class HolderBearerAuthentication(BaseAuthentication):
    """``Authorization: Bearer <token>`` from a verified holder session (15 minutes)."""

    keyword = b"bearer"

    def authenticate(self, request):
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() != self.keyword:
            return None
        if len(parts) != 2:
            raise exceptions.AuthenticationFailed(_("Invalid token."))
        try:
            token = parts[1].decode()
        except UnicodeError:
            raise exceptions.AuthenticationFailed(_("Invalid token.")) from None
        session = services.holder_session_for_token(token)
        if session is None:
            raise exceptions.AuthenticationFailed(
                _("This session has ended or is not valid: verify again.")
            )
        return HolderPrincipal(session), session

    def authenticate_header(self, request):
        return "Bearer"


class HolderBearerScheme(OpenApiAuthenticationExtension):
    target_class = "holders.api.HolderBearerAuthentication"
    name = "holderBearer"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "The token of a verified holder session (POST "
            "/api/v1/holder/sessions/{id}/verify/), valid 15 minutes.",
        }


class IsHolder(BasePermission):
    def has_permission(self, request, view):
        return isinstance(request.auth, HolderSession)


def _throttled(exc: services.HolderThrottled) -> exceptions.Throttled:
    detail = getattr(exc, "message", None) or _("Too many attempts. Try again later.")
    return exceptions.Throttled(wait=exc.retry_after, detail=str(detail))


class SessionStartInput(serializers.Serializer):
    id_number = serializers.CharField(max_length=40, help_text="The NIK (16 digits).")
    kk_number = serializers.CharField(max_length=40, help_text="The family card number (KK).")
    msisdn = serializers.CharField(
        max_length=30, help_text="One mobile number registered on the NIK (08… or 628…)."
    )


class PublicView(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]


class SessionStartView(PublicView):
    @extend_schema(
        operation_id="holder_session_start",
        request=SessionStartInput,
        responses={
            202: inline_serializer("HolderSession", {"session": serializers.UUIDField()}),
            400: FIELD_ERRORS,
        },
        auth=[],
        description="Ask for a one-time code by SMS to `msisdn`. The answer is the same whether "
        "or not the NIK, the KK and the number agree: the code only reaches a current number "
        "on that NIK.",
        tags=["holder"],
    )
    def post(self, request):
        data = SessionStartInput(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            session = services.holder_session_start(
                **data.validated_data, client_ip=client_ip(request)
            )
        except services.HolderThrottled as exc:
            raise _throttled(exc) from None
        return Response({"session": str(session.pk)}, status=status.HTTP_202_ACCEPTED)


class CodeInput(serializers.Serializer):
    code = serializers.CharField(max_length=12)


class SessionVerifyView(PublicView):
    @extend_schema(
        operation_id="holder_session_verify",
        request=CodeInput,
        responses={
            200: inline_serializer(
                "HolderToken",
                {"token": serializers.CharField(), "expires_in": serializers.IntegerField()},
            ),
            400: FIELD_ERRORS,
        },
        auth=[],
        tags=["holder"],
    )
    def post(self, request, pk):
        data = CodeInput(data=request.data)
        data.is_valid(raise_exception=True)
        token = services.holder_session_verify(session_id=pk, code=data.validated_data["code"])
        return Response({"token": token, "expires_in": int(services.session_ttl().total_seconds())})


class HolderView(APIView):
    authentication_classes = [HolderBearerAuthentication]
    permission_classes = [IsHolder]

    def paginated(self, request, items: list) -> Response:
        """A list as every list of the API answers: ``count``, ``next``, ``previous``,
        ``results`` (``?page=``, ``?page_size=``)."""
        paginator = CappedPageNumberPagination()
        page = paginator.paginate_queryset(items, request, view=self)
        return paginator.get_paginated_response(page)


def _page_of(item: type[serializers.Serializer]) -> serializers.Serializer:
    """The schema of a page of ``item`` (``CappedPageNumberPagination``'s shape)."""
    page = type(
        f"Paginated{item.__name__}List",
        (serializers.Serializer,),
        {
            "count": serializers.IntegerField(),
            "next": serializers.URLField(allow_null=True),
            "previous": serializers.URLField(allow_null=True),
            "results": item(many=True),
        },
    )
    return page()


class NumberOut(serializers.Serializer):
    ref = serializers.CharField(
        help_text="Opaque reference to this number: send it as `msisdn` to dispute a number "
        "shown masked."
    )
    msisdn = serializers.CharField(help_text="In full for the login number, masked otherwise.")
    login_number = serializers.BooleanField()
    registered_at = serializers.DateTimeField()
    outlet = serializers.CharField()
    city = serializers.CharField()
    status = serializers.ChoiceField(choices=["active", "inactive", "blocked", "awaiting"])
    over_cap = serializers.BooleanField()
    disputed = serializers.BooleanField()


class NumbersView(HolderView):
    @extend_schema(
        operation_id="holder_numbers",
        responses={200: _page_of(NumberOut)},
        tags=["holder"],
    )
    def get(self, request):
        numbers = services.holder_numbers_view(session=request.auth)
        return self.paginated(
            request,
            [
                {
                    "ref": n.ref,
                    "msisdn": n.shown,
                    "login_number": n.is_login_number,
                    "registered_at": n.registered_at,
                    "outlet": n.outlet_name,
                    "city": n.city,
                    "status": n.status,
                    "over_cap": n.over_cap,
                    "disputed": n.dispute is not None
                    and n.dispute.status != HolderDispute.Status.REVERSED,
                }
                for n in numbers
            ],
        )


class DisputeInput(serializers.Serializer):
    msisdn = serializers.CharField(
        max_length=30,
        help_text="The `ref` of the number from GET numbers/ (or the number in full: a typed "
        "number that cannot be reported gets one answer whatever the reason, and a few such "
        "tries end the session with a 429).",
    )
    note = serializers.CharField(max_length=1000, required=False, allow_blank=True, default="")


class DisputeOut(serializers.Serializer):
    id = serializers.IntegerField()
    msisdn = serializers.CharField(help_text="Masked.")
    status = serializers.ChoiceField(choices=HolderDispute.Status.choices)
    reported_at = serializers.DateTimeField()
    blocked_after = serializers.DateTimeField()
    progress = serializers.ListField(child=serializers.CharField())


def _dispute_out(progress) -> dict:
    d = progress.dispute
    return {
        "id": d.pk,
        "msisdn": progress.shown,
        "status": d.status,
        "reported_at": d.created_at,
        "blocked_after": d.notice_until,
        "progress": progress.steps,
    }


class DisputesView(HolderView):
    @extend_schema(
        operation_id="holder_disputes_list",
        responses={200: _page_of(DisputeOut)},
        tags=["holder"],
    )
    def get(self, request):
        return self.paginated(request, [_dispute_out(p) for p in holder_disputes(request.auth)])

    @extend_schema(
        operation_id="holder_dispute_create",
        request=DisputeInput,
        responses={201: DisputeOut, 400: FIELD_ERRORS},
        description="Report a number on your NIK as not yours: its user is told by SMS at once "
        "and it is blocked after the notice window unless they answer. Send the number's `ref`; "
        "too many typed numbers that cannot be reported end the session (429).",
        tags=["holder"],
    )
    def post(self, request):
        data = DisputeInput(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            dispute = services.holder_dispute_open(
                session=request.auth,
                msisdn=data.validated_data["msisdn"],
                note=data.validated_data["note"],
                answer_url=lambda token: public_url(reverse("holders:answer", args=[token])),
            )
        except services.HolderThrottled as exc:
            raise _throttled(exc) from None
        progress = next(p for p in holder_disputes(request.auth) if p.dispute.pk == dispute.pk)
        return Response(_dispute_out(progress), status=status.HTTP_201_CREATED)
