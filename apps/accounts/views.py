"""Account pages: login lives in django.contrib.auth; here the account, API tokens and group members."""
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Prefetch
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST
from rest_framework.authtoken.models import Token

from . import services
from .forms import AddMemberForm, MemberRoleForm
from .models import Membership, ResearchGroup
from .selectors import groups_of, is_group_owner


def _plain(error: ValidationError) -> str:
    return " ".join(error.messages)


@login_required
def account(request):
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
            "token": Token.objects.filter(user=user).first(),
            "group_rows": rows,
            "role_choices": Membership.Role.choices,
        },
    )


@login_required
@require_POST
def token_create(request):
    token = services.create_api_token(user=request.user)
    messages.success(request, f"New API token created: {token.key}. Send it as the header “Authorization: Token {token.key}”.")
    return redirect("accounts:account")


@login_required
@require_POST
def token_revoke(request):
    if services.revoke_api_token(user=request.user):
        messages.success(request, "API token revoked; scripts using it will now be refused.")
    else:
        messages.info(request, "You had no API token.")
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
