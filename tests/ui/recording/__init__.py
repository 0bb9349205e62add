"""Tests of ui/recording."""
