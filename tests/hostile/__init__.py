"""Hostile packages (tests/hostile/corpus.py) and the fuzz test of FLK."""
