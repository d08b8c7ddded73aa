"""Benchmarks. ``make bench`` runs every ``bench/bench_*.py`` module's ``run() -> dict`` and prints one JSON object."""
