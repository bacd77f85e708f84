"""API of the reports app, under /api/v1/reports/.

- ``POST /reports/`` ``{kind, date_from, date_to, format}`` (+ optional ``province``,
  ``dealer``, ``outlet``, ``grouping``, ``masked``) → 202 with the export; it runs in Celery.
- ``GET /reports/`` the caller's exports; ``GET /reports/{id}/`` status, progress, SHA-256;
  ``GET /reports/{id}/download/`` the file once ready. Another user's export is a 404.
- ``GET /reports/figures/`` the dashboard's figures for a period, as JSON.

Reports are for the operator, GraPARI, the regulator and dealer admins (their outlets); others
get a 403 for the list, the figures and a new export.
"""

from django.http import FileResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    inline_serializer,
)
from rest_framework import permissions, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from core.textclean import VisibleTextSerializerMixin

from . import services
from .figures import Counts, Figures, report_figures
from .models import ExportJob
from .periods import BUCKETS, PeriodError
from .scope import GROUPINGS, ReportScope, can_view_reports, report_filter_from
from .selectors import export_job_get_for_user, export_jobs_for_user

# --- exports -----------------------------------------------------------------------------------


class ExportProgressSerializer(VisibleTextSerializerMixin, serializers.Serializer):
    done = serializers.IntegerField(help_text=_("Rows written so far."))
    total = serializers.IntegerField(help_text=_("Rows the file will hold (0 until counted)."))
    percent = serializers.IntegerField()


class ExportParametersSerializer(VisibleTextSerializerMixin, serializers.Serializer):
    date_from = serializers.DateField()
    date_to = serializers.DateField()
    province = serializers.CharField(allow_blank=True)
    dealer = serializers.CharField(allow_blank=True)
    outlet = serializers.CharField(allow_blank=True)
    grouping = serializers.CharField()


class ExportJobSerializer(VisibleTextSerializerMixin, serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=ExportJob.Kind.choices)
    format = serializers.ChoiceField(choices=ExportJob.Format.choices)
    status = serializers.ChoiceField(choices=ExportJob.Status.choices)
    masked = serializers.BooleanField(help_text=_("False only for an unmasked export."))
    parameters = ExportParametersSerializer()
    progress = ExportProgressSerializer()
    rows_withheld = serializers.IntegerField(
        help_text=_("Rows in scope left out: their processing is restricted (UU PDP).")
    )
    sha256 = serializers.CharField(help_text=_("SHA-256 of the file, once ready."))
    size = serializers.IntegerField(allow_null=True)
    file_name = serializers.CharField()
    requested_by = serializers.CharField()
    requested_by_role = serializers.CharField()
    trigger = serializers.ChoiceField(choices=ExportJob.Trigger.choices)
    created_at = serializers.DateTimeField()
    started_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)
    file_expired = serializers.BooleanField()
    error = serializers.CharField()
    download_url = serializers.CharField(allow_null=True)


def export_job_data(job: ExportJob) -> dict:
    p = job.parameters
    return {
        "id": job.pk,
        "kind": job.kind,
        "format": job.format,
        "status": job.status,
        "masked": job.masked,
        "parameters": {
            k: p.get(k, "")
            for k in ("date_from", "date_to", "province", "dealer", "outlet", "grouping")
        },
        "progress": {"done": job.rows_done, "total": job.rows_total, "percent": job.percent},
        "rows_withheld": job.rows_withheld,
        "sha256": job.sha256,
        "size": job.size,
        "file_name": job.file_name,
        "requested_by": job.requested_by_label,
        "requested_by_role": job.requested_by_role,
        "trigger": job.trigger,
        "created_at": job.created_at,
        "started_at": job.started_at,
        "finished_at": job.finished_at,
        "file_expired": job.file_deleted_at is not None,
        "error": job.error,
        "download_url": reverse("export-job-download", args=[job.pk])
        if job.is_downloadable
        else None,
    }


class ExportJobCreateSerializer(VisibleTextSerializerMixin, serializers.Serializer):
    kind = serializers.ChoiceField(choices=ExportJob.Kind.choices)
    date_from = serializers.DateField(help_text=_("First local day of the period (YYYY-MM-DD)."))
    date_to = serializers.DateField(help_text=_("Last local day of the period, included."))
    format = serializers.ChoiceField(choices=ExportJob.Format.choices, default="csv")
    province = serializers.CharField(max_length=2, required=False, allow_blank=True, default="")
    dealer = serializers.CharField(max_length=20, required=False, allow_blank=True, default="")
    outlet = serializers.CharField(max_length=20, required=False, allow_blank=True, default="")
    grouping = serializers.ChoiceField(choices=GROUPINGS, default="province")
    masked = serializers.BooleanField(
        default=True,
        help_text=_(
            "false: full ID numbers and personal data (needs the reports.export_unmasked "
            "permission; never for the regulator; audited)."
        ),
    )


class ReportsPermission(permissions.BasePermission):
    message = _("Reports are for the operator, GraPARI, the regulator and dealers.")

    def has_permission(self, request, view) -> bool:
        if view.action in ("retrieve", "download"):
            return True  # the caller's own export or a 404
        return can_view_reports(request.user)


DETAIL = inline_serializer("ReportExportNotAvailable", {"detail": serializers.CharField()})
FILE_TYPES = {
    (200, media.split(";")[0]): OpenApiTypes.BINARY
    for media in (
        "text/csv",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "application/pdf",
    )
}


# --- figures -----------------------------------------------------------------------------------


class CountsSerializer(VisibleTextSerializerMixin, serializers.Serializer):
    registrations = serializers.IntegerField()
    blocked = serializers.IntegerField()
    flagged = serializers.IntegerField()
    awaiting = serializers.IntegerField(
        help_text="Of the registrations, awaiting verification by the population registry now."
    )
    with_discrepancy = serializers.IntegerField()
    violation_rate = serializers.FloatField(allow_null=True)
    discrepancies = serializers.IntegerField()
    discrepancies_open = serializers.IntegerField()
    ids_over_cap = serializers.IntegerField()
    ids_repeated = serializers.IntegerField()
    confirmed_violations = serializers.IntegerField(allow_null=True)
    open_clarifications = serializers.IntegerField(allow_null=True)


class GroupSerializer(VisibleTextSerializerMixin, serializers.Serializer):
    key = serializers.CharField()
    label = serializers.CharField()
    detail = serializers.CharField()
    counts = CountsSerializer()


class KindSerializer(VisibleTextSerializerMixin, serializers.Serializer):
    kind = serializers.CharField()
    label = serializers.CharField()
    detected = serializers.IntegerField()
    still_open = serializers.IntegerField()


class IdTypeCountSerializer(VisibleTextSerializerMixin, serializers.Serializer):
    id_type = serializers.CharField()
    label = serializers.CharField()
    registrations = serializers.IntegerField()


class TrendPointSerializer(VisibleTextSerializerMixin, serializers.Serializer):
    start = serializers.DateField()
    end = serializers.DateField()
    label = serializers.CharField()
    registrations = serializers.IntegerField()
    discrepancies = serializers.IntegerField()


class RepeatedSerializer(VisibleTextSerializerMixin, serializers.Serializer):
    outlet_roid = serializers.CharField()
    outlet_name = serializers.CharField()
    ids = serializers.IntegerField()
    most = serializers.IntegerField()


class WorkflowSerializer(VisibleTextSerializerMixin, serializers.Serializer):
    clarifications_opened = serializers.IntegerField()
    clarifications_answered = serializers.IntegerField()
    clarifications_overdue = serializers.IntegerField()
    median_hours_to_resolve = serializers.FloatField(allow_null=True)
    confirmed_violations = serializers.IntegerField()
    sanctions_by_level = serializers.DictField(child=serializers.IntegerField())


class FiguresSerializer(VisibleTextSerializerMixin, serializers.Serializer):
    date_from = serializers.DateField()
    date_to = serializers.DateField()
    province = serializers.CharField()
    dealer = serializers.CharField()
    outlet = serializers.CharField()
    grouping = serializers.CharField()
    bucket = serializers.CharField()
    as_of = serializers.DateTimeField(
        allow_null=True, help_text=_("When the summary tables were last refreshed.")
    )
    totals = CountsSerializer()
    by_id_type = IdTypeCountSerializer(many=True)
    discrepancies_by_kind = KindSerializer(many=True)
    trend = TrendPointSerializer(many=True)
    groups = GroupSerializer(many=True)
    top_outlets = GroupSerializer(many=True)
    repeated_id_outlets = RepeatedSerializer(many=True)
    workflow = WorkflowSerializer()


def _counts(c: Counts) -> dict:
    return {
        "registrations": c.registrations,
        "blocked": c.blocked,
        "flagged": c.flagged,
        "awaiting": c.awaiting,
        "with_discrepancy": c.with_discrepancy,
        "violation_rate": c.violation_rate,
        "discrepancies": c.discrepancies,
        "discrepancies_open": c.open_discrepancies,
        "ids_over_cap": c.over_cap_ids,
        "ids_repeated": c.repeated_ids,
        "confirmed_violations": c.confirmed_violations,
        "open_clarifications": c.open_clarifications,
    }


def figures_data(figures: Figures) -> dict:
    flt, w = figures.filter, figures.workflow

    def group(g):
        return {"key": g.key, "label": g.label, "detail": g.detail, "counts": _counts(g.counts)}

    return {
        "date_from": flt.period.date_from,
        "date_to": flt.period.date_to,
        "province": flt.province,
        "dealer": flt.dealer,
        "outlet": flt.outlet,
        "grouping": flt.grouping,
        "bucket": flt.trend_bucket,
        "as_of": figures.as_of,
        "totals": _counts(figures.totals),
        "by_id_type": [
            {"id_type": k, "label": label, "registrations": n} for k, label, n in figures.by_id_type
        ],
        "discrepancies_by_kind": [vars(k) for k in figures.discrepancies_by_kind],
        "trend": [
            {
                "start": p.bucket.start,
                "end": p.bucket.end,
                "label": p.label,
                "registrations": p.registrations,
                "discrepancies": p.discrepancies,
            }
            for p in figures.trend
        ],
        "groups": [group(g) for g in figures.groups],
        "top_outlets": [group(g) for g in figures.top_outlets],
        "repeated_id_outlets": [
            {
                "outlet_roid": r.outlet.roid,
                "outlet_name": r.outlet.name,
                "ids": r.ids,
                "most": r.most,
            }
            for r in figures.repeated
        ],
        "workflow": {
            "clarifications_opened": w.opened,
            "clarifications_answered": w.answered,
            "clarifications_overdue": w.overdue,
            "median_hours_to_resolve": w.median_hours_to_resolve,
            "confirmed_violations": w.confirmed_violations,
            "sanctions_by_level": w.sanctions_by_level,
        },
    }


FIGURE_PARAMETERS = [
    OpenApiParameter(
        "date_from", OpenApiTypes.DATE, description="Default: 29 days before date_to."
    ),
    OpenApiParameter("date_to", OpenApiTypes.DATE, description="Default: today (local)."),
    OpenApiParameter("province", OpenApiTypes.STR, description="Province code, e.g. 31."),
    OpenApiParameter("dealer", OpenApiTypes.STR, description="Dealer code."),
    OpenApiParameter("outlet", OpenApiTypes.STR, description="ROID."),
    OpenApiParameter("grouping", OpenApiTypes.STR, enum=list(GROUPINGS)),
    OpenApiParameter("bucket", OpenApiTypes.STR, enum=list(BUCKETS)),
]


@extend_schema(tags=["reports"])
class ReportViewSet(viewsets.GenericViewSet):
    """Exports (CSV, XLSX, PDF) run as jobs, and the dashboard's figures."""

    serializer_class = ExportJobSerializer
    permission_classes = [permissions.IsAuthenticated, ReportsPermission]
    lookup_value_regex = r"[0-9]{1,18}"

    def get_queryset(self):
        return export_jobs_for_user(user=self.request.user)

    def list(self, request):
        """The caller's exports, newest first."""
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(
            ExportJobSerializer([export_job_data(job) for job in page], many=True).data
        )

    @extend_schema(request=ExportJobCreateSerializer, responses={202: ExportJobSerializer})
    def create(self, request):
        """Request an export. Answers 202 at once; follow it at its URL, then download it."""
        body = ExportJobCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = dict(body.validated_data)
        job = services.export_job_create(
            user=request.user,
            kind=data.pop("kind"),
            format=data.pop("format"),
            masked=data.pop("masked"),
            data=data,
            trigger=ExportJob.Trigger.API,
            language=getattr(request, "LANGUAGE_CODE", ""),
        )
        job.refresh_from_db()
        return Response(export_job_data(job), status=status.HTTP_202_ACCEPTED)

    def retrieve(self, request, pk=None):
        """An export's status, progress and, once ready, its SHA-256."""
        job = export_job_get_for_user(user=request.user, pk=pk)
        return Response(ExportJobSerializer(export_job_data(job)).data)

    @extend_schema(
        responses={
            **FILE_TYPES,
            409: OpenApiResponse(DETAIL, description="Not ready yet: follow its status."),
            410: OpenApiResponse(DETAIL, description="The file was deleted (retention)."),
        }
    )
    @action(detail=True, methods=["get"], url_path="download", url_name="download")
    def download(self, request, pk=None):
        """The export's file (attachment), once its status is ``succeeded``; audited."""
        job = export_job_get_for_user(user=request.user, pk=pk)
        if job.file_deleted_at is not None:
            return Response(
                {"detail": str(_("The file was deleted after the retention period."))},
                status=status.HTTP_410_GONE,
            )
        if not job.is_downloadable:
            return Response(
                {"detail": str(_("The export is not ready yet."))},
                status=status.HTTP_409_CONFLICT,
            )
        handle = services.export_job_open(user=request.user, job=job)
        response = FileResponse(
            handle, as_attachment=True, filename=job.file_name, content_type=job.content_type
        )
        response["Cache-Control"] = "private, no-store"
        response["X-Content-SHA256"] = job.sha256
        return response

    @extend_schema(parameters=FIGURE_PARAMETERS, responses={200: FiguresSerializer})
    @action(detail=False, methods=["get"], url_path="figures", url_name="figures")
    def figures(self, request):
        """Every figure of the dashboard for a period (from the summary tables; see
        ``as_of``), within what the caller may see."""
        try:
            flt = report_filter_from(request.query_params, today=timezone.localdate())
        except PeriodError as exc:
            raise ValidationError({k: [v] for k, v in exc.errors.items()}) from exc
        figures = report_figures(flt, ReportScope.for_user(request.user))
        return Response(FiguresSerializer(figures_data(figures)).data)
