"""Tests of ui/devices."""
