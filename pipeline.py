"""The nightly pipeline: the only module that imports adapters, linkage and rules."""
