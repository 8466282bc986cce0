"""Reusable stages: plain functions over tables and shards, testable without Prefect."""
