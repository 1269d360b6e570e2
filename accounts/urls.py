from django.urls import path

from accounts.views import home, login

app_name = "accounts"

urlpatterns = [
    path("login/", login.login_password, name="login"),
    path("login/code/", login.login_otp, name="login-otp"),
    path("login/enrol/", login.login_enrol, name="login-enrol"),
    path("logout/", login.logout_view, name="logout"),
    path("step-up/", home.step_up, name="step-up"),
    path("sessions/<str:public_id>/end/", home.session_end_own, name="session-end"),
    path("devices/<int:pk>/revoke/", home.device_revoke_own, name="device-revoke"),
]
