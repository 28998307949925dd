"""Instructor-only autograding library for the mmids exercises."""
