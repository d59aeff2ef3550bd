"""Forms of the account pages."""
from django import forms

from .models import Membership


class AddMemberForm(forms.Form):
    username = forms.CharField(max_length=150, help_text="The user's login name.")
    role = forms.ChoiceField(choices=Membership.Role.choices, initial=Membership.Role.MEMBER)


class MemberRoleForm(forms.Form):
    role = forms.ChoiceField(choices=Membership.Role.choices)
