from django.contrib import admin

from .models import Dealer, DealerAdmin, Outlet, OutletStaff, StarterPack


class OutletInline(admin.TabularInline):
    model = Outlet
    fields = ("roid", "name", "region", "province", "status")
    extra = 0
    show_change_link = True


@admin.register(Dealer)
class DealerModelAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "is_active", "created_at")
    search_fields = ("code", "name")
    inlines = [OutletInline]


class StaffInline(admin.TabularInline):
    model = OutletStaff
    fields = ("user", "is_active", "joined_at")
    readonly_fields = ("joined_at",)
    raw_id_fields = ("user",)
    extra = 0


@admin.register(Outlet)
class OutletModelAdmin(admin.ModelAdmin):
    list_display = ("roid", "name", "dealer", "region", "province", "status")
    list_filter = ("status", "province", "dealer")
    search_fields = ("roid", "name", "region")
    list_select_related = ("dealer",)
    inlines = [StaffInline]


@admin.register(OutletStaff)
class OutletStaffModelAdmin(admin.ModelAdmin):
    list_display = ("user", "outlet", "is_active", "joined_at")
    list_filter = ("is_active",)
    search_fields = ("user__username", "outlet__roid")
    raw_id_fields = ("user", "outlet")
    # The staff member's own ID is protected like any ID number: never shown here.
    exclude = ("id_number_encrypted", "id_number_digest", "kk_number_encrypted", "kk_number_digest")


@admin.register(DealerAdmin)
class DealerAdminModelAdmin(admin.ModelAdmin):
    list_display = ("user", "dealer")
    raw_id_fields = ("user",)


@admin.register(StarterPack)
class StarterPackModelAdmin(admin.ModelAdmin):
    list_display = ("msisdn", "iccid", "dealer", "outlet", "status", "updated_at")
    list_filter = ("status", "dealer")
    search_fields = ("msisdn", "iccid")
    raw_id_fields = ("outlet",)
    list_select_related = ("dealer", "outlet")
    show_full_result_count = False  # millions of packs: no COUNT(*) on every page
