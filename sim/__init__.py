"""SUMO side of the project: network import, the simulated city (field), evaluation."""
