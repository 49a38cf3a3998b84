"""API routes: review (filled in by the review-dashboard work)."""

from __future__ import annotations

from typing import Any

ROUTES: list[Any] = []
