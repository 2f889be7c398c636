"""Mirrors (docs/spec.md, "Mirrors"): a verified, cosigned copy of a log, pulled from the
publisher or another mirror (:mod:`ledger.mirror.pull`) and served as static files
(:mod:`ledger.mirror.server`). Never imports the store."""
