from django.urls import path

from accounts.views import account, enrol, home, login, passkeys, reconfirm

app_name = "accounts"

urlpatterns = [
    path("login/", login.login_password, name="login"),
    path("login/code/", login.login_otp, name="login-otp"),
    path("login/enrol/", login.login_enrol, name="login-enrol"),
    path("login/passkey/options/", passkeys.login_options, name="login-passkey-options"),
    path("login/passkey/", passkeys.login_passkey, name="login-passkey"),
    path("logout/", login.logout_view, name="logout"),
    path("enrol/<str:token>/", enrol.enrol, name="enrol"),
    path("step-up/", home.step_up, name="step-up"),
    path("step-up/passkey/options/", passkeys.step_up_options, name="step-up-passkey-options"),
    path("step-up/passkey/", passkeys.step_up, name="step-up-passkey"),
    path("reconfirm/", reconfirm.review_reconfirm_view, name="review-reconfirm"),
    path("me/", home.my_account, name="my-account"),
    path("sessions/<str:public_id>/end/", home.session_end_own, name="session-end"),
    path("devices/<int:pk>/revoke/", home.device_revoke_own, name="device-revoke"),
    path("password/", account.password_change, name="password-change"),
    path("password-reset/", account.password_reset_request, name="password-reset"),
    path("password-reset/sent/", account.password_reset_sent, name="password-reset-sent"),
    path("password-reset/<uidb64>/<token>/", account.password_reset_confirm, name="password-reset-confirm"),
    path("security/", account.security, name="security"),
    path("security/mobile/", account.mobile_change, name="mobile-change"),
    path("security/mobile/confirm/", account.mobile_change_confirm, name="mobile-change-confirm"),
    path("security/app/add/", account.totp_add, name="security-totp-add"),
    path("security/app/", account.totp_confirm, name="security-totp"),
    path("security/sms/add/", account.sms_add, name="security-sms-add"),
    path("security/sms/confirm/", account.sms_confirm, name="security-sms-confirm"),
    path("security/backup-codes/", account.backup_codes, name="security-backup-codes"),
    path("security/passkeys/options/", passkeys.register_options, name="passkey-register-options"),
    path("security/passkeys/", passkeys.register, name="passkey-register"),
    path("security/passkeys/<int:pk>/revoke/", passkeys.revoke_own, name="passkey-revoke"),
    path("security/<str:method>/remove/", account.otp_remove, name="security-remove"),
]
