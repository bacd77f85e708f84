"""API tokens for integrators: ``POST /api/v1/auth/token/`` with username and password issues
one; ``/api/v1/auth/tokens/`` lists them and revokes one (``DELETE``).

Tokens are stored as a digest only, expire (``API_TOKEN_TTL_HOURS``) and are all revoked when
the account's password changes or is reset (``accounts.models``); each call to the endpoint
issues a new one.

The username is NFKC-normalised first, as the web login's form does (``ｇｒａｐａｒｉ`` is
``grapari``, docs/security.md), so both ways in find the same account and django-axes keys
both by the same name. The credentials go through ``django.contrib.auth.authenticate`` with
the request, so django-axes counts failures and refuses a locked-out username + client address pair
(``core.clientip``) even with the right password; the endpoint also has its own throttle (the
``token`` scope, keyed on the same client address).
"""

import math

from axes.helpers import get_cool_off
from django.contrib.auth import authenticate, get_user_model, user_logged_in
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import mixins, permissions, serializers, status, viewsets
from rest_framework.response import Response
from rest_framework.views import APIView

from core.schema import DETAIL_SCHEMA, FIELD_ERRORS_SCHEMA
from core.textclean import VisibleTextSerializerMixin
from core.throttling import ScopedRateThrottle

from . import services
from .models import ApiToken


class UsernameField(serializers.CharField):
    """A username as typed, NFKC-normalised like the web login's (``UsernameField`` of
    ``django.contrib.auth.forms``; ``AbstractBaseUser.normalize_username``) before its length
    is checked and before it reaches ``authenticate`` and django-axes."""

    def to_internal_value(self, data):
        return get_user_model().normalize_username(super().to_internal_value(data))


class TokenRequestSerializer(VisibleTextSerializerMixin, serializers.Serializer):
    username = UsernameField(max_length=150)
    password = serializers.CharField(
        max_length=128, trim_whitespace=False, style={"input_type": "password"}
    )


class TokenSerializer(VisibleTextSerializerMixin, serializers.Serializer):
    token = serializers.CharField(
        help_text="Send it as `Authorization: Token <token>`. Shown once: only its digest is kept."
    )
    expires_at = serializers.DateTimeField(help_text="After this the token is refused (401).")


class ApiTokenSerializer(VisibleTextSerializerMixin, serializers.ModelSerializer):
    user = serializers.CharField(source="user.username", read_only=True)
    prefix = serializers.CharField(read_only=True, help_text="The token's first characters.")

    class Meta:
        model = ApiToken
        fields = ["id", "prefix", "name", "user", "created_at", "expires_at", "last_used_at"]
        read_only_fields = fields


class ObtainTokenView(APIView):
    """Exchange a username and password for a new API token of the account."""

    # Credentials are the only authentication here: no session, hence no CSRF check either.
    authentication_classes = []
    permission_classes = [permissions.AllowAny]
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "token"

    @extend_schema(
        operation_id="auth_token_create",
        tags=["auth"],
        request=TokenRequestSerializer,
        responses={
            200: TokenSerializer,
            400: OpenApiResponse(
                FIELD_ERRORS_SCHEMA, description="Missing fields or wrong credentials."
            ),
            429: OpenApiResponse(
                DETAIL_SCHEMA, description="Too many attempts: throttled or locked out."
            ),
        },
    )
    def post(self, request):
        credentials = TokenRequestSerializer(data=request.data)
        credentials.is_valid(raise_exception=True)
        # The DRF request is what axes flags (``axes_locked_out``); the lockout answer is
        # this view's JSON 429, not AxesMiddleware's HTML page, which only sees the
        # underlying HttpRequest.
        user = authenticate(request, **credentials.validated_data)
        if getattr(request, "axes_locked_out", False):
            return self._locked_out()
        if user is None:
            raise serializers.ValidationError(
                {"non_field_errors": [_("Unable to log in with the username and password given.")]}
            )
        token, key = services.api_token_issue(user=user)
        # Issuing a token is a login: last_login is updated and axes clears earlier failures.
        user_logged_in.send(sender=user.__class__, request=request, user=user)
        return Response(TokenSerializer({"token": key, "expires_at": token.expires_at}).data)

    def _locked_out(self) -> Response:
        cool_off = get_cool_off(self.request)
        headers = {}
        if cool_off:
            minutes = max(1, math.ceil(cool_off.total_seconds() / 60))
            message = _(
                "Too many failed login attempts. This account is locked for %(minutes)d minutes "
                "from this address."
            ) % {"minutes": minutes}
            headers["Retry-After"] = str(int(cool_off.total_seconds()))
        else:
            message = _("Too many failed login attempts. Ask an administrator to unlock it.")
        return Response(
            {"detail": message}, status=status.HTTP_429_TOO_MANY_REQUESTS, headers=headers
        )


@extend_schema(tags=["auth"])
class ApiTokenViewSet(mixins.ListModelMixin, mixins.DestroyModelMixin, viewsets.GenericViewSet):
    """The caller's API tokens (every account's for the operator admin); ``DELETE`` revokes one,
    the token of the request itself included (that is how an integrator logs out)."""

    serializer_class = ApiTokenSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation: no real user
            return ApiToken.objects.none()
        tokens = services.api_tokens_for_user(self.request.user)
        username = self.request.query_params.get("user")
        if username:
            tokens = tokens.filter(user__username=username)
        return tokens.order_by("-created_at", "-pk")

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "user", str, description="Only this account's tokens (useful to the operator)."
            )
        ]
    )
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    def perform_destroy(self, instance):
        services.api_token_revoke(actor=self.request.user, token=instance)
