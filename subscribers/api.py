"""API of the subscribers app: registrations, through the same service as the web form.

Thin on purpose: check the body's shape, call ``services.registration_create`` (or
``registration_prepare`` to validate), answer. The rules, and their messages, live in the
service; ``core.api.exception_handler`` turns its ValidationError into the 400.
"""

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, permissions, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from core.api import as_api_exception
from core.schema import DETAIL_SCHEMA, FIELD_ERRORS_SCHEMA
from outlets.selectors import staff_membership_for_user

from . import idempotency, services
from .models import Registration
from .selectors import (
    registration_get_for_user,
    registration_read_for_user,
    registrations_for_user,
)
from .serializers import (
    RegistrationFilterSerializer,
    RegistrationInputSerializer,
    RegistrationSerializer,
    RegistrationWithPhotosInputSerializer,
    RevealedIdNumberSerializer,
    ValidationResultSerializer,
)

IN_PROGRESS_RETRY_AFTER = 2  # seconds: a registration takes well under one
REGISTRATION_BODY = {
    "application/json": RegistrationInputSerializer,
    "multipart/form-data": RegistrationWithPhotosInputSerializer,
}
FIELD_ERRORS = OpenApiResponse(
    {
        **FIELD_ERRORS_SCHEMA,
        "example": {
            "id_number": ["The first two digits of this NIK are not an Indonesian province code."],
            "consent": ["The buyer must agree to the registration of their data."],
        },
    },
    description="Every field at fault with its messages; nothing was written.",
)
IDEMPOTENCY_KEY = OpenApiParameter(
    idempotency.HEADER,
    type={
        "type": "string",
        "minLength": 1,
        "maxLength": idempotency.KEY_MAX_LENGTH,
        "pattern": idempotency.KEY_PATTERN,
    },
    location=OpenApiParameter.HEADER,
    required=False,
    description=(
        "A key of your choice (a UUID) per registration attempt. A retry with the same key "
        "returns the first answer (201 or 400, with the header `Idempotent-Replayed: true`) and "
        "creates nothing (a retry that arrives while the first is still running waits for it, or "
        "after a while gets 409 with `Retry-After`); the same key with another body is refused "
        "with 422. A key is "
        f"remembered for {settings.IDEMPOTENCY_KEY_TTL_HOURS} hours."
    ),
)


class RegistersBuyers(permissions.BasePermission):
    """Only outlet staff may register (or validate a registration): anyone else gets a 403.

    A clerk whose outlet is suspended passes here and gets the service's 400 at
    ``non_field_errors``, which says why the outlet cannot register.
    """

    message = gettext_lazy("Only staff of an outlet can register buyers.")

    def has_permission(self, request, view) -> bool:
        if view.action not in ("create", "validate"):
            return True
        return staff_membership_for_user(user=request.user) is not None


def _checked_body(request) -> tuple[dict, dict]:
    serializer = RegistrationWithPhotosInputSerializer(data=request.data)
    serializer.is_valid(raise_exception=True)
    return serializer.split()


@extend_schema(tags=["registrations"])
class RegistrationViewSet(viewsets.GenericViewSet):
    """Registrations the caller may see (``subscribers.selectors.registrations_for_user``):
    all for operator roles, the dealer's outlets' for a dealer admin, the own outlet's for a
    clerk. Another outlet's registration is a 404.

    Registering is for outlet staff only: the regulator, a dealer admin, GraPARI or the
    operator POSTing get a **403** (they are authenticated but may not act for an outlet).
    """

    serializer_class = RegistrationSerializer
    permission_classes = [permissions.IsAuthenticated, RegistersBuyers]
    lookup_value_regex = r"[0-9]{1,18}"

    def get_queryset(self):
        return registrations_for_user(user=self.request.user)

    @extend_schema(parameters=[RegistrationFilterSerializer])
    def list(self, request):
        params = RegistrationFilterSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        queryset = registrations_for_user(user=request.user, filters=params.validated_data)
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    def retrieve(self, request, pk=None):
        """One registration; each read by someone outside its outlet is audited, as on the
        page."""
        registration = registration_read_for_user(user=request.user, pk=pk, page="api")
        return Response(self.get_serializer(registration).data)

    @extend_schema(
        request=REGISTRATION_BODY,
        parameters=[IDEMPOTENCY_KEY],
        responses={
            201: RegistrationSerializer,
            400: FIELD_ERRORS,
            409: OpenApiResponse(
                DETAIL_SCHEMA,
                description=(
                    "A request with this Idempotency-Key is still running; retry after "
                    "`Retry-After` seconds with the same key to get its answer."
                ),
            ),
            422: OpenApiResponse(
                DETAIL_SCHEMA, description="The Idempotency-Key was used with another body."
            ),
        },
    )
    def create(self, request):
        """Register the buyer of a starter pack at the caller's outlet.

        JSON, or ``multipart/form-data`` to send ``id_photo``/``face_photo`` (the face, verified
        by the population registry, identifies a citizen since 2026). A refused body writes
        nothing. When the population registry cannot be reached the registration is created
        with status ``awaiting`` (its pack not activated, a warning in ``warnings``) and checked
        when the registry answers.
        """
        raw_key = request.headers.get(idempotency.HEADER)
        if raw_key is None:
            return Response(self._register(request), status=status.HTTP_201_CREATED)
        try:
            key = idempotency.clean_key(raw_key)
        except idempotency.IdempotencyKeyInvalid:
            return Response(
                {
                    "detail": _(
                        "The Idempotency-Key header must be 1 to %(max)d visible ASCII "
                        "characters, e.g. a UUID."
                    )
                    % {"max": idempotency.KEY_MAX_LENGTH}
                },
                status=status.HTTP_400_BAD_REQUEST,
            )
        fingerprint = idempotency.request_fingerprint(
            method=request.method, path=request.path, data=request.data
        )

        def prepare():
            # Checked, the population registry asked, before the key's transaction opens (and
            # only when the key has no answer yet): nothing waits on the network in it.
            try:
                data, photos = _checked_body(request)
                prepared = services.registration_prepare(clerk=request.user, data=data, **photos)
            except (DjangoValidationError, exceptions.ValidationError) as exc:
                return None, None, exc
            return prepared, data, None

        def produce(checked):
            prepared, data, refused = checked
            try:
                if refused is not None:
                    raise refused
                registration = services.registration_write(
                    prepared, clerk=request.user, data=data, source=Registration.Source.API
                )
                return status.HTTP_201_CREATED, self.get_serializer(registration).data
            except (DjangoValidationError, exceptions.ValidationError) as exc:
                refusal = as_api_exception(exc)
                return refusal.status_code, refusal.detail

        try:
            answer = idempotency.run_idempotent(
                user=request.user,
                key=key,
                fingerprint=fingerprint,
                produce=produce,
                prepare=prepare,
            )
        except idempotency.IdempotencyKeyInProgress:
            # The first request with this key is still running (the client timed out early):
            # nothing was created by this one; asking again shortly gets the first's answer.
            return Response(
                {
                    "detail": _(
                        "A request with this Idempotency-Key is still being processed. Retry "
                        "in a few seconds with the same key to get its answer."
                    )
                },
                status=status.HTTP_409_CONFLICT,
                headers={"Retry-After": str(IN_PROGRESS_RETRY_AFTER)},
            )
        except idempotency.IdempotencyKeyReused:
            return Response(
                {
                    "detail": _(
                        "This Idempotency-Key was already used with a different request body. "
                        "Use a new key for a new registration."
                    )
                },
                status=status.HTTP_422_UNPROCESSABLE_ENTITY,
            )
        headers = {"Idempotent-Replayed": "true"} if answer.replayed else None
        return Response(answer.body, status=answer.status, headers=headers)

    def _register(self, request) -> dict:
        data, photos = _checked_body(request)
        registration = services.registration_create(
            clerk=request.user, data=data, source=Registration.Source.API, **photos
        )
        return self.get_serializer(registration).data

    @extend_schema(
        request=REGISTRATION_BODY,
        responses={200: ValidationResultSerializer, 400: FIELD_ERRORS},
    )
    @action(detail=False, methods=["post"])
    def validate(self, request):
        """Check a registration body exactly as ``create`` would, writing nothing: 200
        ``{"valid": true, "outcome": ..., "warnings": [...]}``, or the same 400 the create would
        answer. While the population registry cannot be reached the outcome is
        ``awaiting_verification`` (a create would keep the registration awaiting verification,
        its pack not activated), with a warning saying so."""
        data, photos = _checked_body(request)
        prepared = services.registration_prepare(clerk=request.user, data=data, **photos)
        return Response(
            {
                "valid": True,
                "outcome": "awaiting_verification" if prepared.awaiting else "registered",
                "warnings": [dict(w) for w in prepared.warnings],
            }
        )

    @extend_schema(request=None, responses={200: RevealedIdNumberSerializer})
    @action(detail=True, methods=["post"], url_path="reveal-id-number")
    def reveal_id_number(self, request, pk=None):
        """The full ID number of a registration, for holders of the
        ``subscribers.reveal_id_number`` permission; each disclosure is audited. 404 when the
        caller cannot see the registration at all, 403 when they may see it but not the number.
        """
        registration = registration_get_for_user(user=request.user, pk=pk)
        try:
            number = services.registration_reveal_id_number(
                user=request.user, registration=registration
            )
        except PermissionError as exc:
            raise exceptions.PermissionDenied(
                _("Your account may not see full ID numbers.")
            ) from exc
        return Response({"id_number": number}, headers={"Cache-Control": "no-store"})
