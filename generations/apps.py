from __future__ import annotations

from django.apps import AppConfig


class GenerationsConfig(AppConfig):
    name = "generations"
    verbose_name = "Generations"

    def ready(self) -> None:
        from django.conf import settings
        from PIL import Image

        # Every process of the studio (web, workers, sandbox) decodes no image above this many
        # pixels: a 20 KB PNG can claim 13000 x 13000 and take a gigabyte once decoded.
        Image.MAX_IMAGE_PIXELS = settings.MAX_IMAGE_PIXELS
