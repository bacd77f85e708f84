"""API of reconciliation: the runs and the discrepancies they find.

- ``/reconciliation-runs/``: operator admins start runs (202, the run keeps going in Celery);
  the operator, GraPARI and the regulator follow them; anyone else gets a 403.
- ``/discrepancies/``: read-only, scoped like the registrations (another outlet's is a 404);
  ID numbers are always masked, and for the regulator names and birth dates too.
"""

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import (
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
    inline_serializer,
)
from rest_framework import mixins, permissions, serializers, status, viewsets
from rest_framework.response import Response

from ..models import Discrepancy, DiscrepancyKind, ReconciliationRun
from . import engine
from .selectors import (
    can_start_runs,
    can_view_runs,
    discrepancies_for_user,
    discrepancy_details_for_user,
    run_get_for_user,
    run_summary,
    runs_for_user,
)


class KindCountsSerializer(serializers.Serializer):
    missing_in_operator = serializers.IntegerField()
    id_number_mismatch = serializers.IntegerField()
    name_mismatch = serializers.IntegerField()
    birth_date_mismatch = serializers.IntegerField()
    unregistered_activation = serializers.IntegerField()
    activated_before_registration = serializers.IntegerField()
    id_over_limit = serializers.IntegerField()


class RunProgressSerializer(serializers.Serializer):
    done = serializers.IntegerField(help_text=_("Chunks done."))
    total = serializers.IntegerField(help_text=_("Chunks planned (0 until the run is planned)."))
    rows_done = serializers.IntegerField(help_text=_("Rows examined so far."))
    rows_total = serializers.IntegerField(help_text=_("Rows to examine (an estimate)."))


class ReconciliationRunSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    mode = serializers.ChoiceField(choices=ReconciliationRun.Mode.choices)
    status = serializers.ChoiceField(choices=ReconciliationRun.Status.choices)
    trigger = serializers.ChoiceField(choices=ReconciliationRun.Trigger.choices)
    engine = serializers.CharField(
        help_text=_("'sql' (set-based) or 'python'; empty until planned.")
    )
    requested_by = serializers.CharField(allow_null=True)
    created_at = serializers.DateTimeField()
    started_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)
    duration_seconds = serializers.FloatField(allow_null=True)
    since = serializers.DateTimeField(
        allow_null=True, help_text=_("Incremental runs: changes at or after this time.")
    )
    id_cap = serializers.IntegerField(
        allow_null=True, help_text=_("Numbers allowed per ID by the policy in force.")
    )
    progress = RunProgressSerializer()
    counts = KindCountsSerializer(help_text=_("Discrepancies found by this run, by kind."))
    opened = KindCountsSerializer(help_text=_("Of those, newly opened by this run."))
    resolved = KindCountsSerializer(help_text=_("Open ones this run no longer found."))
    error = serializers.CharField()


class ReconciliationRunCreateSerializer(serializers.Serializer):
    mode = serializers.ChoiceField(
        choices=ReconciliationRun.Mode.choices, default=ReconciliationRun.Mode.INCREMENTAL
    )


class RunsPermission(permissions.BasePermission):
    """Starting a run is the operator admin's; following runs is for operator-wide roles."""

    message = _("Only the operator, GraPARI and the regulator follow reconciliation runs.")

    def has_permission(self, request, view) -> bool:
        if view.action == "create":
            self.message = _("Only operator admins start reconciliation runs.")
            return can_start_runs(request.user)
        return can_view_runs(request.user)


RUN_IN_PROGRESS = OpenApiResponse(
    inline_serializer(
        "ReconciliationRunConflict",
        {
            "detail": serializers.CharField(),
            "active_run": serializers.IntegerField(allow_null=True),
        },
    ),
    description="Another run is queued or running; runs never overlap.",
)


@extend_schema(tags=["reconciliation"])
class ReconciliationRunViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """Reconciliation runs with their status, progress and counts by kind."""

    serializer_class = ReconciliationRunSerializer
    permission_classes = [permissions.IsAuthenticated, RunsPermission]
    lookup_value_regex = r"[0-9]{1,18}"

    def get_queryset(self):
        return runs_for_user(user=self.request.user)

    def list(self, request, *args, **kwargs):
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(
            ReconciliationRunSerializer([run_summary(run) for run in page], many=True).data
        )

    def retrieve(self, request, *args, **kwargs):
        run = run_get_for_user(user=request.user, pk=kwargs["pk"])
        return Response(ReconciliationRunSerializer(run_summary(run)).data)

    @extend_schema(
        request=ReconciliationRunCreateSerializer,
        responses={202: ReconciliationRunSerializer, 409: RUN_IN_PROGRESS},
    )
    def create(self, request, *args, **kwargs):
        """Start a run (operator admins). Answers 202 at once; follow it at its URL."""
        body = ReconciliationRunCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            run = engine.reconciliation_start(
                mode=body.validated_data["mode"],
                trigger=ReconciliationRun.Trigger.API,
                requested_by=request.user,
            )
        except engine.RunAlreadyActive as exc:
            return Response(
                {"detail": str(exc), "active_run": exc.run.pk if exc.run else None},
                status=status.HTTP_409_CONFLICT,
            )
        run.refresh_from_db()
        return Response(
            ReconciliationRunSerializer(run_summary(run)).data, status=status.HTTP_202_ACCEPTED
        )


class RegistrationRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    registration_number = serializers.CharField()


class DiscrepancySerializer(serializers.ModelSerializer):
    registration = serializers.SerializerMethodField()
    outlet_roid = serializers.CharField(source="outlet.roid", allow_null=True, default=None)
    details = serializers.SerializerMethodField()

    class Meta:
        model = Discrepancy
        fields = [
            "id",
            "msisdn",
            "kind",
            "status",
            "registration",
            "outlet_roid",
            "details",
            "detected_at",
            "last_seen_at",
            "resolved_at",
            "first_detected_run",
            "last_seen_run",
            "resolved_by_run",
        ]
        read_only_fields = fields

    @extend_schema_field(RegistrationRefSerializer(allow_null=True))
    def get_registration(self, obj) -> dict | None:
        if obj.registration_id is None:
            return None
        return {
            "id": obj.registration_id,
            "registration_number": obj.registration.registration_number,
        }

    @extend_schema_field(
        {
            "type": "object",
            "description": "The portal's and the operator's values side by side (`portal`, "
            "`operator`); ID numbers masked.",
            "additionalProperties": True,
        }
    )
    def get_details(self, obj) -> dict:
        return discrepancy_details_for_user(discrepancy=obj, user=self.context["request"].user)


class DiscrepancyFilterSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=DiscrepancyKind.choices, required=False)
    status = serializers.ChoiceField(choices=Discrepancy.Status.choices, required=False)
    outlet = serializers.CharField(required=False, max_length=20, help_text=_("Outlet ROID."))
    msisdn = serializers.CharField(required=False, max_length=20)


@extend_schema(tags=["discrepancies"])
class DiscrepancyViewSet(viewsets.ReadOnlyModelViewSet):
    """Discrepancies the caller may see: all for the operator, GraPARI and the regulator; the
    dealer's outlets' for a dealer admin; the own outlet's for outlet staff."""

    serializer_class = DiscrepancySerializer
    lookup_value_regex = r"[0-9]{1,18}"

    def get_queryset(self):
        return discrepancies_for_user(user=self.request.user)

    @extend_schema(parameters=[DiscrepancyFilterSerializer])
    def list(self, request, *args, **kwargs):
        params = DiscrepancyFilterSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        queryset = discrepancies_for_user(user=request.user, filters=params.validated_data)
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(self.get_serializer(page, many=True).data)
