"""Tests of ui/common."""
