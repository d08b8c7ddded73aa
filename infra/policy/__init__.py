"""Bulk-sender compliance checks: plain functions (``checks``) wrapped as a CrossGuard policy pack (``pack``)."""
