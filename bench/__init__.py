"""Benchmarks for the video pipeline (issue 3, item 5). Run `python -m bench --help`.

Not a test suite: each scenario starts real processes (sandbox, Celery worker, API server, ffmpeg), measures,
and writes bench/results/<scenario>.json plus the table in bench/results/README.md.
"""
