"""Internals of the recommendation engine; import from utils.recommendations."""
