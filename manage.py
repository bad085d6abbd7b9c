#!/usr/bin/env python
import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "video_saas.settings")
    from django.core.exceptions import ImproperlyConfigured
    from django.core.management import execute_from_command_line

    try:
        execute_from_command_line(sys.argv)
    except ImproperlyConfigured as exc:  # e.g. SECRET_KEY refused with DEBUG=false: one clear line, no traceback
        sys.exit(f"video_saas refuses to start: {exc}")


if __name__ == "__main__":
    main()
