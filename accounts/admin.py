from django.contrib import admin

from .models import JobUsageRecord


@admin.register(JobUsageRecord)
class JobUsageRecordAdmin(admin.ModelAdmin):
    """What erased accounts' jobs cost and were charged: a record, never edited."""

    list_display = ["job_id", "account", "status", "completed_at", "credits_used", "cost_usd", "erased_at"]
    list_filter = ["status"]
    search_fields = ["job_id"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
