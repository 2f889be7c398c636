"""`ledger validate` (placeholder until the importers land; replaced by the importers' work)."""
