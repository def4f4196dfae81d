"""The pure control core: no I/O, no clock, no SUMO, no MQTT, no Prometheus.

Given the junction models, validated detector snapshots, signal statuses and the time, it
returns commands. Deterministic: the same inputs give the same outputs, bit for bit.
"""
