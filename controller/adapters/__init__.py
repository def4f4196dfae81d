"""Adapters: the only modules that talk to the outside world (broker, metrics, files).

They move bytes and report what happened; they never decide timing (that is the core's job).
"""
