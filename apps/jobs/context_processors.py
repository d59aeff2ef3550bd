"""Template context of the jobs app: the "no background worker" banner for signed-in people."""
from .selectors import worker_status


def worker_banner(request) -> dict:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    status = worker_status()
    return {"worker_down": status} if status.show_banner else {}
