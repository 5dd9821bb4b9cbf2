"""Analyses built on decoded images: what a checkpoint says, not how it is encoded."""
