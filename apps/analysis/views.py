"""Jobs: the list page and the JSON status endpoint the progress bars poll."""
from __future__ import annotations

from django.http import JsonResponse
from django.shortcuts import render

from apps.catalog.views import paginate
from apps.jobs.models import Job

from .selectors import visible_jobs

MAX_STATUS_IDS = 200


def job_list(request):
    jobs = visible_jobs(user=request.user)
    state = request.GET.get("state", "")
    if state in Job.State.values:
        jobs = jobs.filter(state=state)
    page, query = paginate(request, jobs.order_by("-created_at", "-pk"), per_page=50)
    return render(
        request,
        "analysis/job_list.html",
        {"page": page, "query": query, "states": Job.State.choices, "state": state},
    )


def job_as_dict(job: Job) -> dict:
    return {
        "id": job.pk,
        "kind": job.kind,
        "kind_label": job.get_kind_display(),
        "state": job.state,
        "state_label": job.get_state_display(),
        "progress_done": job.progress_done,
        "progress_total": job.progress_total,
        "progress_percent": round(100 * job.progress_fraction),
        "finished": job.is_finished,
        "error": job.shown_error,
        "target_type": job.target_type,
        "target_id": job.shown_target_id,
        "target_label": job.shown_target_label,
    }


def job_status(request):
    """`?ids=1,2,3` → the state and progress of those jobs the user may see; others are left out."""
    ids = [int(part) for part in request.GET.get("ids", "").replace(" ", "").split(",") if part.isdigit()][:MAX_STATUS_IDS]
    jobs = visible_jobs(user=request.user).filter(pk__in=ids) if ids else Job.objects.none()
    rows = [job_as_dict(job) for job in jobs]
    return JsonResponse({"jobs": rows, "all_finished": all(r["finished"] for r in rows)})
