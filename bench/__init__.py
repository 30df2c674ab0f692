"""Benchmarks of ikev2d against strongSwan (make bench): figures only, never fail on time."""
