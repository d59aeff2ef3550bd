from django.contrib import admin

from .models import Job


@admin.register(Job)
class JobAdmin(admin.ModelAdmin):
    list_display = [
        "pk", "kind", "target_label", "state", "progress_done", "progress_total", "attempts", "created_at", "finished_at"
    ]
    list_filter = ["state", "kind"]
    search_fields = ["target_label", "celery_task_id", "error"]
    readonly_fields = [
        "created_at", "started_at", "finished_at", "heartbeat_at", "celery_task_id", "dispatched_at", "dispatches",
        "attempts", "result",
    ]
