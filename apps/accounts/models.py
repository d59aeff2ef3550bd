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


class ApiToken(models.Model):
    """A named API key of one user. Only the SHA-256 of the key is stored; `prefix` identifies it in lists.

    A user holds any number of tokens (one per script or instrument PC), each
    revoked on its own. Scope `read` allows GET/HEAD/OPTIONS only.
    """

    class Scope(models.TextChoices):
        READ = "read", "Read only"
        READ_WRITE = "read_write", "Read and write"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100, help_text="What uses this token, e.g. “harvester on the Gamry PC”.")
    scope = models.CharField(max_length=12, choices=Scope.choices, default=Scope.READ_WRITE)
    prefix = models.CharField(max_length=16, help_text="The first characters of the key, to recognise it.")
    key_hash = models.CharField(max_length=64, unique=True, help_text="SHA-256 (hex) of the key.")
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True, help_text="Refused from this moment on; empty: never.")
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…, {self.user})"

    @property
    def can_write(self) -> bool:
        return self.scope == self.Scope.READ_WRITE
