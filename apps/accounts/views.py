"""Account pages: login lives in django.contrib.auth; here the account, API tokens and group members."""
from django.contrib import messages
from django.contrib.auth.decorators import login_required
import datetime

from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Prefetch
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from . import services
from .forms import AddMemberForm, ApiTokenForm, MemberRoleForm
from .models import Membership, ResearchGroup
from .selectors import api_tokens_of, groups_of, is_group_owner


def _plain(error: ValidationError) -> str:
    return " ".join(error.messages)


def _account_page(request, *, token_form=None, new_key: str = "", status: int = 200):
    user = request.user
    groups = groups_of(user).prefetch_related(
        Prefetch("memberships", Membership.objects.select_related("user").order_by("user__username"))
    )
    rows = []
    for group in groups:
        rows.append(
            {
                "group": group,
                "is_owner": is_group_owner(user, group),
                "memberships": list(group.memberships.all()),
                "add_form": AddMemberForm(prefix=f"g{group.pk}"),
            }
        )
    return render(
        request,
        "accounts/account.html",
        {
            "tokens": list(api_tokens_of(user)),
            "now": timezone.now(),
            "token_form": token_form or ApiTokenForm(),
            "new_key": new_key,
            "group_rows": rows,
            "role_choices": Membership.Role.choices,
        },
        status=status,
    )


@login_required
def account(request):
    return _account_page(request)


@login_required
@require_POST
def token_create(request):
    """The new key is shown in this answer only (not redirected, not kept in a message or the session)."""
    form = ApiTokenForm(request.POST)
    if not form.is_valid():
        return _account_page(request, token_form=form, status=400)
    days = form.cleaned_data.get("expires_in_days")
    try:
        issued = services.create_api_token(
            user=request.user,
            name=form.cleaned_data["name"],
            scope=form.cleaned_data["scope"],
            expires_at=timezone.now() + datetime.timedelta(days=days) if days else None,
        )
    except ValidationError as error:
        messages.error(request, _plain(error))
        return _account_page(request, token_form=form, status=400)
    return _account_page(request, new_key=issued.key)


@login_required
@require_POST
def token_revoke(request, pk: int):
    token = get_object_or_404(api_tokens_of(request.user), pk=pk)
    services.revoke_api_token(user=request.user, token_id=token.pk)
    messages.success(request, f"API token “{token.name}” ({token.prefix}…) revoked; scripts using it will now be refused.")
    return redirect("accounts:account")


def _my_group_or_404(request, slug: str) -> ResearchGroup:
    """A group the user belongs to; any other group is a 404 so outsiders learn nothing."""
    groups = ResearchGroup.objects.all() if request.user.is_superuser else groups_of(request.user)
    return get_object_or_404(groups, slug=slug)


@login_required
@require_POST
def member_add(request, slug: str):
    group = _my_group_or_404(request, slug)
    form = AddMemberForm(request.POST, prefix=f"g{group.pk}")
    if not form.is_valid():
        for field, errors in form.errors.items():
            messages.error(request, f"{field}: {' '.join(errors)}")
        return redirect("accounts:account")
    try:
        membership = services.add_member(
            actor=request.user, group=group, username=form.cleaned_data["username"], role=form.cleaned_data["role"]
        )
    except ValidationError as error:
        messages.error(request, _plain(error))
    except PermissionDenied as error:
        messages.error(request, str(error))
    else:
        messages.success(request, f"{membership.user.username} added to {group.name} as {membership.get_role_display().lower()}.")
    return redirect("accounts:account")


def _membership_in_my_groups(request, pk: int) -> Membership:
    return get_object_or_404(
        Membership.objects.select_related("group", "user").filter(group__in=groups_of(request.user)), pk=pk
    )


@login_required
@require_POST
def member_role(request, pk: int):
    membership = _membership_in_my_groups(request, pk)
    form = MemberRoleForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose member or owner.")
        return redirect("accounts:account")
    try:
        services.change_member_role(actor=request.user, membership=membership, role=form.cleaned_data["role"])
    except ValidationError as error:
        messages.error(request, _plain(error))
    except PermissionDenied as error:
        messages.error(request, str(error))
    else:
        messages.success(request, f"{membership.user.username} is now {form.cleaned_data['role']} of {membership.group.name}.")
    return redirect("accounts:account")


@login_required
@require_POST
def member_remove(request, pk: int):
    membership = _membership_in_my_groups(request, pk)
    try:
        services.remove_member(actor=request.user, membership=membership)
    except ValidationError as error:
        messages.error(request, _plain(error))
    except PermissionDenied as error:
        messages.error(request, str(error))
    else:
        messages.success(request, f"{membership.user.username} removed from {membership.group.name}.")
    return redirect("accounts:account")
