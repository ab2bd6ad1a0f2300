"""Sorting and searching: sort, argsort, topk, kthvalue, unique, searchsorted, bincount, histc."""

from __future__ import annotations

__all__: list = []
