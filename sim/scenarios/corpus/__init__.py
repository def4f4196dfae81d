"""A corpus of small, seeded, irregular SUMO scenarios for CI (issue 9): random networks, short
edges and lanes, joined clusters, T-junctions, signalised roundabouts, turn pockets, programs in
additional files with sub-phases, every signal letter, the city's own loops, pedestrian
crossings, several vehicle classes. catalogue.py lists them; build.py builds them (at test time,
into a cache); docs/corpus.md describes each one and the test that runs them.
"""
