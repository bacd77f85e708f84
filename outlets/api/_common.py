"""What the outlets app's API resources share: role checks per action, the error answers, a
negotiation that lets a file download answer errors as JSON."""

from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils.translation import gettext_lazy
from drf_spectacular.utils import OpenApiResponse
from rest_framework import permissions, serializers
from rest_framework.negotiation import DefaultContentNegotiation

from core.api import as_api_exception
from core.roles import may_decide
from core.schema import FIELD_ERRORS_SCHEMA
from core.textclean import VisibleTextSerializerMixin

from ..models import Dealer, Outlet
from ..selectors import dealer_id_for_user

# Ids are 64-bit: a bigger number in a filter or body would overflow the database driver.
MAX_ID = 2**63 - 1


def IdField(**kwargs) -> serializers.IntegerField:
    return serializers.IntegerField(min_value=1, max_value=MAX_ID, **kwargs)


FIELD_ERRORS = OpenApiResponse(
    FIELD_ERRORS_SCHEMA, description="Every field at fault with its messages; nothing was written."
)


def is_dealer_admin(user) -> bool:
    return dealer_id_for_user(user=user) is not None


def is_dealer_or_operator(user) -> bool:
    return user.is_operator or is_dealer_admin(user)


def may_sanction(user) -> bool:
    return may_decide(user)


class ActionAllowed(permissions.IsAuthenticated):
    """``view.allowed_for = {action: predicate(user)}``: an authenticated user failing the
    predicate of the action gets a 403 before the body is read; other actions are open to any
    authenticated user (their querysets are scoped)."""

    message = gettext_lazy("Your role may not do this.")

    def has_permission(self, request, view) -> bool:
        if not super().has_permission(request, view):
            return False
        predicate = getattr(view, "allowed_for", {}).get(view.action)
        return predicate is None or predicate(request.user)


def relabel(exc: DjangoValidationError, mapping: dict) -> Exception:
    """A service's ValidationError as the API's 400, its field names mapped to the body's."""
    if hasattr(exc, "error_dict"):
        exc = DjangoValidationError(
            {mapping.get(name, name): messages for name, messages in exc.message_dict.items()}
        )
    return as_api_exception(exc)


class IgnoreClientContentNegotiation(DefaultContentNegotiation):
    """For file downloads: errors are rendered as JSON whatever the Accept header says (the
    file itself is a plain HttpResponse and bypasses rendering). Bodies are parsed as usual."""

    def select_renderer(self, request, renderers, format_suffix=None):
        return (renderers[0], renderers[0].media_type)


class DealerSummarySerializer(VisibleTextSerializerMixin, serializers.ModelSerializer):
    class Meta:
        model = Dealer
        fields = ["code", "name"]
        read_only_fields = fields


class OutletRefSerializer(VisibleTextSerializerMixin, serializers.ModelSerializer):
    class Meta:
        model = Outlet
        fields = ["id", "roid", "name"]
        read_only_fields = fields
