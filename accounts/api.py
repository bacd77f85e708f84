"""API token for integrators: ``POST /api/v1/auth/token/`` with username and password.

The credentials go through ``django.contrib.auth.authenticate`` with the request, so
django-axes counts failures and refuses a locked-out username+IP pair even with the right
password; the endpoint also has its own throttle (the ``token`` scope).
"""

import math

from axes.helpers import get_cool_off
from django.contrib.auth import authenticate, user_logged_in
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import permissions, serializers, status
from rest_framework.authtoken.models import Token
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView

from core.schema import DETAIL_SCHEMA, FIELD_ERRORS_SCHEMA


class TokenRequestSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(
        max_length=128, trim_whitespace=False, style={"input_type": "password"}
    )


class TokenSerializer(serializers.Serializer):
    token = serializers.CharField(help_text="Send it as `Authorization: Token <token>`.")


class ObtainTokenView(APIView):
    """Exchange a username and password for the account's API token."""

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
        token, _created = Token.objects.get_or_create(user=user)
        # Issuing a token is a login: last_login is updated and axes clears earlier failures.
        user_logged_in.send(sender=user.__class__, request=request, user=user)
        return Response({"token": token.key})

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
