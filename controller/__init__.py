"""Adaptive traffic-signal control service."""
