from django.contrib.auth import views as auth_views
from django.urls import path

from . import account_urls, developers_urls, jobs_urls, newvideo_urls, views

app_name = "webapp"

urlpatterns = [
    path("", views.home, name="home"),
    path("accounts/sign-up/", views.sign_up, name="sign_up"),
    path("accounts/sign-up/done/", views.sign_up_done, name="sign_up_done"),
    path("accounts/verify/<uidb64>/<token>/", views.verify_email, name="verify_email"),
    path("accounts/verify/again/", views.resend_verification, name="resend_verification"),
    path("accounts/sign-in/", views.SignInView.as_view(), name="login"),
    path("accounts/sign-out/", auth_views.LogoutView.as_view(), name="logout"),  # POST only: GET is 405
    path("accounts/password-reset/", views.PasswordResetView.as_view(), name="password_reset"),
    path("accounts/password-reset/sent/", views.PasswordResetDoneView.as_view(), name="password_reset_done"),
    path("accounts/reset/<uidb64>/<token>/", views.PasswordResetConfirmView.as_view(),
         name="password_reset_confirm"),
    path("accounts/reset/done/", views.PasswordResetCompleteView.as_view(), name="password_reset_complete"),
]
urlpatterns += newvideo_urls.urlpatterns
urlpatterns += jobs_urls.urlpatterns
urlpatterns += account_urls.urlpatterns
urlpatterns += developers_urls.urlpatterns
