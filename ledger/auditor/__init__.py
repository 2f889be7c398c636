"""The auditor's side: verify, the tile audit, receipts and proofs, the state file. Never imports
:mod:`ledger.store`: an auditor needs no lmdb."""
