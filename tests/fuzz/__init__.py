"""A mutation fuzzer of the sans-IO responder, seeded with real clients' recorded exchanges.

`make fuzz` runs the campaign (fuzz.campaign); tests/fuzz/test_fuzz.py replays the seeds and
every kept crasher and runs a short fixed-seed campaign as part of `make test`.
"""
