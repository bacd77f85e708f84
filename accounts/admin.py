from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm
from django.utils.translation import gettext_lazy as _

from core.textclean import VisibleTextFormMixin

from . import services
from .models import ApiToken, User


class VisibleUserChangeForm(VisibleTextFormMixin, UserChangeForm):
    pass


class VisibleUserCreationForm(VisibleTextFormMixin, AdminUserCreationForm):
    pass


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    # Names and usernames without invisible or direction-changing characters (core.textclean).
    form = VisibleUserChangeForm
    add_form = VisibleUserCreationForm
    list_display = ("username", "get_full_name", "role", "is_active", "last_login")
    list_filter = ("role", "is_active", "is_superuser")
    fieldsets = (
        *BaseUserAdmin.fieldsets,
        (_("Portal"), {"fields": ("role", "preferred_language")}),
    )
    add_fieldsets = (*BaseUserAdmin.add_fieldsets, (_("Portal"), {"fields": ("role",)}))


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Tokens are listed by their first characters; the key itself is never stored. Tokens are
    issued only at the API's token endpoint; here they can be revoked."""

    list_display = ("prefix", "user", "name", "created_at", "expires_at", "last_used_at")
    list_filter = ("expires_at",)
    search_fields = ("user__username", "prefix", "name")
    readonly_fields = list_display
    fields = list_display
    actions = ["revoke_tokens"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        # Revoking goes through the service (audited), never the generic bulk delete.
        return False

    def has_view_permission(self, request, obj=None):
        return (request.user.is_active and request.user.is_superuser) or (
            request.user.is_staff and getattr(request.user, "is_operator", False)
        )

    def has_module_permission(self, request):
        return self.has_view_permission(request)

    @admin.action(description=_("Revoke the selected API tokens"))
    def revoke_tokens(self, request, queryset):
        count = 0
        for token in queryset.select_related("user"):
            services.api_token_revoke(actor=request.user, token=token)
            count += 1
        self.message_user(request, _("%(count)d token(s) revoked.") % {"count": count})
