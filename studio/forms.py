"""The studio's forms: sign-up, workspaces (name, invitations, the key), credits (grants,
adjustments, budgets) and the Usage page's filters. Views only bind and read them."""

from __future__ import annotations

import datetime as dt
import re

from django import forms
from django.contrib.auth.forms import UserCreationForm
from django.core.exceptions import ValidationError
from django.utils import timezone

from generations import catalog
from studio import ledger, usage
from studio.models import Budget, Role


class SignupForm(UserCreationForm):
    class Meta(UserCreationForm.Meta):
        fields = ("username", "email")
        help_texts = {"email": "Optional: where a password reset link is sent."}


# -- workspaces --------------------------------------------------------------------------------

INVITE_DAYS = 7
KEY_PATTERN = re.compile(r"aio_[A-Za-z0-9_\-]{8,200}")


class NameForm(forms.Form):
    name = forms.CharField(max_length=100, label="Name")

    def clean_name(self) -> str:
        name = " ".join(self.cleaned_data["name"].split())
        if not name:
            raise forms.ValidationError("Give the workspace a name.")
        return name


class InviteForm(forms.Form):
    role = forms.ChoiceField(choices=Role.choices, initial=Role.MEMBER)
    email = forms.EmailField(required=False, help_text="Optional: who it is for (a note).")
    days = forms.IntegerField(
        min_value=1, max_value=30, initial=INVITE_DAYS, label="Valid for days"
    )


class KeyForm(forms.Form):
    api_key = forms.CharField(
        required=False,
        label="API in One key",
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
        help_text=(
            "aio_ and then at least 8 letters, digits, - or _. Leave blank to keep the stored key."
        ),
        max_length=200,
        error_messages={"max_length": "An API in One key is at most 204 characters."},
    )

    def clean_api_key(self) -> str:
        """The key as pasted, without the spaces around it; blank keeps the stored one."""
        key = (self.cleaned_data.get("api_key") or "").strip()
        if key and not KEY_PATTERN.fullmatch(key):
            raise ValidationError(
                "This is not an API in One key: they are aio_ and then at least 8 letters, "
                "digits, - or _ (check for spaces or hidden characters when pasting)."
            )
        return key


# -- credits


class GrantForm(forms.Form):
    amount = forms.DecimalField(min_value=0.0001, max_digits=14, decimal_places=4, label="Credits")
    reason = forms.CharField(max_length=300, help_text="E.g. the upstream order it mirrors.")

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, auto_id="id_grant_%s", **kwargs)  # two forms on one page


class AdjustForm(forms.Form):
    amount = forms.DecimalField(max_digits=14, decimal_places=4, label="Credits (+ or −)")
    reason = forms.CharField(max_length=300)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, auto_id="id_adjust_%s", **kwargs)

    def clean_amount(self):
        if self.cleaned_data["amount"] == 0:
            raise ValidationError("An adjustment is a non-zero number of credits.")
        return self.cleaned_data["amount"]


class BudgetForm(forms.ModelForm):
    """A member's limit and period. The model keeps "no limit" as period "none" (its limit then
    unused); here no limit is an empty limit, never a "0" that reads as a limit of zero."""

    limit = forms.DecimalField(
        required=False,
        max_digits=14,
        decimal_places=4,
        min_value=0,
        error_messages={"min_value": "A limit is zero or more credits."},
        widget=forms.NumberInput(attrs={"placeholder": "No limit", "min": "0"}),
    )

    class Meta:
        model = Budget
        fields = ["limit", "period"]

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.period == Budget.Period.NONE:
            self.initial["limit"] = None
        elif not self.is_bound:
            self.initial["limit"] = ledger.fmt(self.instance.limit)  # 10, not 10.0000

    def clean(self) -> dict:
        data = super().clean()
        limit, period = data.get("limit"), data.get("period")
        if "limit" in self.errors or not period:
            return data
        if period == Budget.Period.NONE and limit is not None and "period" not in self.changed_data:
            # A limit typed for a member who has none, the period left at "No limit": asked
            # for a limit, so saying "no limit" would drop it.
            self.add_error(
                "period",
                f"A limit of {ledger.fmt(limit)} credits needs a period: per day, week or month "
                "(or leave the limit empty for no limit).",
            )
        elif limit is None or period == Budget.Period.NONE:
            data["limit"], data["period"] = ledger.ZERO, Budget.Period.NONE
        return data

    def describe(self) -> str:
        """The saved budget in words, for the audit log and the confirmation."""
        if self.instance.period == Budget.Period.NONE:
            return "no limit"
        return f"{ledger.fmt(self.instance.limit)} per {self.instance.period}"


# -- usage

MAX_DAYS = 400  # the longest range the Usage page draws


class UsageFilters(forms.Form):
    start = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    group = forms.ChoiceField(choices=list(usage.GROUPS.items()), required=False)
    bucket = forms.ChoiceField(
        choices=[("day", "Day"), ("week", "Week"), ("month", "Month")], required=False
    )
    member = forms.ChoiceField(required=False, choices=[])
    model = forms.ChoiceField(required=False, choices=[])

    def __init__(self, *args, members: list[str] = (), **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["member"].choices = [("", "Everyone")] + [(name, name) for name in members]
        self.fields["model"].choices = [("", "All models")] + [
            (s.slug, s.name) for s in catalog.MODELS.values()
        ]

    def clean(self) -> dict:
        data = super().clean()
        today = timezone.now().date()
        end = data.get("end") or today
        start = data.get("start") or end - dt.timedelta(days=29)
        if start > end:
            self.add_error("start", "The start comes after the end.")
        elif (end - start).days > MAX_DAYS:
            self.add_error("start", f"Choose at most {MAX_DAYS} days.")
        data["start"], data["end"] = start, end
        return data

    def filters(self) -> usage.Filters:
        data = self.cleaned_data
        return usage.Filters(
            start=data["start"],
            end=data["end"],
            group=data.get("group") or "member",
            bucket=data.get("bucket") or "day",
            member=data.get("member") or "",
            model=data.get("model") or "",
        )
