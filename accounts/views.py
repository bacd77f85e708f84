"""Login and the per-role home page."""

from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render

from outlets.selectors import dealer_id_for_user, staff_membership_for_user


class LoginView(auth_views.LoginView):
    template_name = "registration/login.html"
    redirect_authenticated_user = True


@login_required
def home(request):
    """Each role lands on its own home: clerks on their outlet's work, operator admins on the
    admin, the others on a page of what they can do."""
    user = request.user
    membership = staff_membership_for_user(user=user)
    if membership is not None:
        return render(request, "accounts/home_clerk.html", {"membership": membership})
    if dealer_id_for_user(user=user) is not None:
        return render(request, "accounts/home_dealer.html", {"dealer": user.dealer_admin.dealer})
    if user.role == user.Role.GRAPARI:
        return render(request, "accounts/home_grapari.html")
    if user.role == user.Role.REGULATOR:
        return render(request, "accounts/home_regulator.html")
    if user.is_operator:
        return render(request, "accounts/home_operator.html")
    return render(request, "accounts/home_none.html")


def root_redirect(request):  # pragma: no cover - kept for old bookmarks
    return redirect("home")
