"""Packaging and deploy helpers: ``python -m infra.package`` (``make package``) and ``python -m infra.deploy``."""
