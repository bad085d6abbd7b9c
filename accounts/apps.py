from django.apps import AppConfig


class AccountsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "accounts"
    verbose_name = "The customer's data: erasure and export"

    def ready(self) -> None:
        from django.contrib.auth import get_user_model
        from django.db.models.signals import pre_delete

        from .services import erase_before_user_deletion

        pre_delete.connect(erase_before_user_deletion, sender=get_user_model(), dispatch_uid="accounts.erase_user")
