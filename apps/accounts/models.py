"""Research groups, membership and the visibility every record carries."""
from django.conf import settings
from django.db import models


class ResearchGroup(models.Model):
    name = models.CharField(max_length=200, unique=True)
    slug = models.SlugField(max_length=80, unique=True)
    institution = models.CharField(max_length=200, blank=True)
    description = models.TextField(blank=True)
    members = models.ManyToManyField(settings.AUTH_USER_MODEL, through="Membership", related_name="research_groups")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    class Role(models.TextChoices):
        MEMBER = "member", "Member"
        OWNER = "owner", "Owner"  # manages membership and sees the group's private records

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    group = models.ForeignKey(ResearchGroup, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.MEMBER)
    joined_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "group"], name="membership_unique_user_group")]
        ordering = ["group__name", "user__username"]

    def __str__(self) -> str:
        return f"{self.user} in {self.group} ({self.get_role_display()})"


class Visibility(models.TextChoices):
    PRIVATE = "private", "Private (uploader and group owners)"
    GROUP = "group", "Group only"
    PUBLIC = "public", "Public"


class OwnedRecord(models.Model):
    """A record that belongs to a research group and says who may see it.

    `embargo_until`: until that date the record is visible as if it were
    group-only (or private, if so marked); from that date on it is public.
    """

    group = models.ForeignKey(ResearchGroup, on_delete=models.PROTECT, related_name="+")
    visibility = models.CharField(max_length=10, choices=Visibility.choices, default=Visibility.GROUP)
    embargo_until = models.DateField(null=True, blank=True, help_text="Becomes public on this date.")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True
