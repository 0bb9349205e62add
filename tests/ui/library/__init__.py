"""Tests of ui/library."""
