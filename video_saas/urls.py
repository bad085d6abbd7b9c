from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/video/", include("video_generation.urls")),
    path("api/catalog/", include("video_generation.catalog_urls")),  # avatars/, voices/
    path("api/account/", include("accounts.urls")),  # GET/DELETE /api/account/, export/
    path("api/account/", include("billing.account_urls")),  # ledger/, usage/
    path("api/billing/", include("billing.urls")),
    path("api/keys/", include("api_keys.urls")),
    path("api/webhooks/", include("webhooks.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("media/", include("video_generation.media_urls")),
    path("", include("webapp.urls")),  # the web app; last, so /api/, /admin/ and /media/ keep their own
]

handler404 = "webapp.jobs_views.page_not_found"  # JSON under /api/, the web app's 404 page elsewhere
