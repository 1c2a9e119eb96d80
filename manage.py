#!/usr/bin/env python3
from __future__ import annotations

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "studio.settings")
    from django.conf import settings
    from django.core.exceptions import ImproperlyConfigured
    from django.core.management import execute_from_command_line

    try:
        settings.INSTALLED_APPS  # noqa: B018 - reading settings first reports a bad value plainly
    except ImproperlyConfigured as e:
        sys.exit(f"Configuration error: {e}")
    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
