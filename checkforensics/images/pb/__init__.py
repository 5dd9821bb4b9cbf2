"""Protobuf modules generated from protos/*.proto by scripts/regen-protos.py; do not edit."""
